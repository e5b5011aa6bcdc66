"""`llmspec validate` on a folder of broken specs reports every planted problem at its line.

Each file under tests/data/broken/ declares what it plants in header lines
``# expect: LS201 12`` (or in a sidecar ``NAME.expect`` when the file cannot hold a comment).
The rendered text output is a golden file: tests/golden/broken-validate.txt.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

from tests.conftest import ROOT

BROKEN = ROOT / "tests" / "data" / "broken"
EXPECT = re.compile(r"^(?:# )?expect: (LS\d{3}) (\d+)\s*$", re.M)


def expectations() -> dict[str, set[tuple[str, int]]]:
    out: dict[str, set[tuple[str, int]]] = {}
    for path in sorted(BROKEN.glob("*.yaml")):
        sidecar = path.with_name(path.name + ".expect")
        text = (sidecar if sidecar.exists() else path).read_bytes().decode("utf-8", "replace")
        out[path.name] = {(code, int(line)) for code, line in EXPECT.findall(text)}
    return out


def run_validate(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "llmspec", "validate", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )


@pytest.fixture(scope="module")
def report() -> tuple[int, dict[str, object], str]:
    result = run_validate("tests/data/broken", "--format", "json")
    return result.returncode, json.loads(result.stdout), result.stderr


def test_there_are_enough_broken_specs() -> None:
    planted = expectations()
    assert len(planted) >= 30
    assert all(planted.values()), [name for name, found in planted.items() if not found]


def test_every_planted_problem_is_reported(report) -> None:
    code, payload, stderr = report
    assert code == 1
    assert "Traceback" not in stderr
    found: dict[str, set[tuple[str, int]]] = defaultdict(set)
    for diag in payload["diagnostics"]:  # type: ignore[index]
        span = diag["span"]
        found[Path(span["file"]).name].add((diag["code"], span["line"]))
    planted = expectations()
    mismatches = {
        name: {"expected": sorted(want), "reported": sorted(found.get(name, set()))}
        for name, want in planted.items()
        if found.get(name, set()) != want
    }
    assert not mismatches, json.dumps(mismatches, indent=1)


def test_every_source_and_check_code_is_exercised() -> None:
    from llmspec.core.codes import CODES

    planted = {code for found in expectations().values() for code, _ in found}
    needs_flags = {"LS100", "LS102", "LS306", "LS307"}  # missing files, huge files, CLI options
    # LS0xx come from command options; LS470 on from plan, apply and the day-2 commands
    validate_codes = {c for c in CODES if "LS100" <= c < "LS470"}
    missing = sorted(validate_codes - planted - needs_flags)
    assert not missing, missing


def test_text_output_is_golden(golden) -> None:
    result = run_validate("tests/data/broken")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    golden(ROOT / "tests" / "golden" / "broken-validate.txt", result.stdout)


def test_github_annotations_for_every_problem(report) -> None:
    result = run_validate("tests/data/broken", "--format", "github")
    lines = result.stdout.splitlines()
    _, payload, _ = report
    assert len(lines) == len(payload["diagnostics"])  # type: ignore[arg-type]
    assert all(
        re.match(r"^::(error|warning) file=tests/data/broken/[^,]+,line=\d+,col=\d+", x)
        for x in lines
    )
