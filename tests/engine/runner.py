"""`python -m tests.engine.runner ARGS...`: the llmspec CLI with the fake step kinds installed."""

import sys

from llmspec.cli import main
from tests.engine.fake_steps import install

install()
sys.exit(main(sys.argv[1:]))
