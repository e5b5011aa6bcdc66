"""Stage 2: one Document per environment (overlays merged, overrides set, values interpolated)."""
