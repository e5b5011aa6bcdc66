"""Rewrite a constraints file from what a virtualenv has installed: `python .ci/pins.py VENV FILE`.

Run by `LLMSPEC_NEWEST=1 .ci/run` once the suite passed on the newest releases. The file keeps
its leading comment; llmspec itself (installed editable) and direct URLs are left out, and local
version labels (`torch 2.13.0+cpu`) are dropped, so the pins resolve from any index.
"""

import re
import subprocess
import sys
from pathlib import Path


def main(venv: str, target: str) -> None:
    frozen = subprocess.run(
        [f"{venv}/bin/pip", "freeze", "--exclude-editable"],
        capture_output=True, text=True, check=True,
    ).stdout.splitlines()  # fmt: skip
    pins = sorted(
        (re.sub(r"\+[^\s;]+$", "", line) for line in frozen if "==" in line and " @ " not in line),
        key=str.lower,
    )
    path = Path(target)
    header = [ln for ln in path.read_text().splitlines() if ln.startswith("#")] if path.exists() else []
    path.write_text("\n".join([*header, *pins]) + "\n")
    print(f"{target}: {len(pins)} pins from {venv}")


if __name__ == "__main__":
    main(*sys.argv[1:3])
