from llmspec.cli import run

run()
