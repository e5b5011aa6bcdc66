"""Plans: typed resource addresses, the resource graph with content digests (each kind declares
its resources through the engine's step interface), the plan against recorded state, its views
(text, Markdown, JSON), saved plans and the order deletes run in. May import core, state and
the step interface (`engine.step`, `engine.render` for template digests).

Named in the plural (as Terraform's `plans`) so that `llmspec.plan(...)`, the API function, is
never shadowed by the package."""
