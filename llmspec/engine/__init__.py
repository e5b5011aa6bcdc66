"""The engine: the step interface and its registry, apply, destroy, approvals, the render
stage, the build store and retrain marks. May import core, the front end, plan, state and the
integrations; a step kind is reached through the registry, never imported by name."""
