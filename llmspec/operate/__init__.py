"""Day-2 operations on an applied environment: serve, predict, query, try (the sandbox),
monitor and its HTML report, feedback, audit, diff. May import everything below the CLI; the
CLI calls these through `llmspec.api`."""
