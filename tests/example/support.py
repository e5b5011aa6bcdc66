"""Running the CLI in the example's repository copy, and reading what apply recorded."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any


def llmspec(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "llmspec", *args], cwd=cwd, capture_output=True, text=True
    )


def outputs(applied: dict[str, Any], address: str) -> dict[str, Any]:
    return dict(applied["state"]["resources"][address]["outputs"])
