"""Stage 2: one Document per environment (overlays merged, overrides set, values interpolated),
and `provenance` (`llmspec explain`): which file, line and layer set each resolved value. May
import core and source."""
