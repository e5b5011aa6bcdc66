"""Third-party services in one place each: `mlflow` (tracking URIs, experiments, tag names,
trace search). May import core only."""
