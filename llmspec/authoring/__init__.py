"""Writing specs and their references: `init` scaffolds, the JSON Schema and the generated
docs. May import core, spec and (for the command reference) the CLI parsers."""
