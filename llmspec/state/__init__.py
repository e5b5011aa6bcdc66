"""State: what was built per app and environment, its backends (local files, SQL), locks and
the journal. May import core only."""
