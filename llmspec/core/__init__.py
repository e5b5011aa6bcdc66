"""The kernel every room may import: diagnostics and their codes, secret references, the
repository layout, git facts. Imports nothing else from llmspec."""
