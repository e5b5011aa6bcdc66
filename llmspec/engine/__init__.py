"""The engine: the step interface and its registry, apply, destroy, approvals, the render
stage, the build store, retrain marks, the lock helper, progress hooks and the workspace. May
import core, the front end, plans and state; a step kind is reached through the registry, never
imported by name."""
