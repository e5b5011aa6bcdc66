"""The command line: every command, its output formats and its exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from llmspec.cli import main
from tests.conftest import MINIMAL, ROOT

COMMANDS = ["validate", "show", "explain", "schema", "init"]


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "llmspec", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
    )


@pytest.mark.parametrize("command", COMMANDS)
def test_help_has_examples(command: str, capsys) -> None:
    with pytest.raises(SystemExit) as info:
        main([command, "--help"])
    assert info.value.code == 0
    assert "examples:" in capsys.readouterr().out


def test_usage_errors_exit_2(capsys) -> None:
    with pytest.raises(SystemExit) as info:
        main(["validate"])
    assert info.value.code == 2
    assert main([]) == 2


def test_validate_ok_and_error_exit_codes(write, capsys) -> None:
    good = write("good.yaml")
    assert main(["validate", str(good)]) == 0
    bad = write("bad.yaml", MINIMAL.replace("tiny-gpt2", "tiny-gtp2"))
    assert main(["validate", str(bad)]) == 1
    out = capsys.readouterr().out
    assert "error[LS204]" in out and "bad.yaml:7:7" in out and "^^^^^^^^^" in out
    assert "did you mean `tiny-gpt2`?" in out


def test_validate_json_is_versioned(write, capsys) -> None:
    bad = write("bad.yaml", MINIMAL.replace("  id: tiny-gpt2\n", "  id: tiny-gpt2\n  sed: 1\n"))
    assert main(["validate", str(bad), "--format", "json"]) == 1
    payload = json.loads(capsys.readouterr().out)
    assert payload["format_version"] == 1 and payload["errors"] == 1
    diag = payload["diagnostics"][0]
    assert diag["code"] == "LS201" and diag["span"]["line"] == 8
    assert diag["hint"] == "did you mean `seed`?"
    assert payload["specs"][str(bad)] == {"base": "error"}


def test_validate_github_annotations(write, capsys) -> None:
    bad = write("bad.yaml", MINIMAL.replace("tiny-gpt2", "tiny-gtp2"))
    assert main(["validate", str(bad), "--format", "github"]) == 1
    line = capsys.readouterr().out.splitlines()[0]
    assert line.startswith("::error file=bad.yaml,line=7,col=7,")
    assert "title=LS204::" in line


def test_validate_strict_fails_on_warnings(write, capsys) -> None:
    spec = write(
        "app.yaml",
        MINIMAL.replace("{{ question }}", "hello").replace(
            "      template:", "      inputs: [question]\n      template:"
        ),
    )
    assert main(["validate", str(spec)]) == 0
    assert main(["validate", str(spec), "--strict"]) == 1
    assert "warning[LS403]" in capsys.readouterr().out


def test_validate_missing_path(capsys) -> None:
    assert main(["validate", "does/not/exist.yaml"]) == 1
    assert "LS100" in capsys.readouterr().out


def test_validate_one_environment_and_set(write, capsys) -> None:
    spec = write("app.yaml", MINIMAL + "environments:\n  dev: {}\n  prod: {}\n")
    assert main(["validate", str(spec), "-e", "prod"]) == 0
    assert "(prod)" in capsys.readouterr().out
    assert main(["validate", str(spec), "-e", "prd"]) == 1
    assert "did you mean `prod`?" in capsys.readouterr().out
    assert main(["validate", str(spec), "--set", "model.generation.temperature=9"]) == 1


def test_show_masks_secrets_and_fills_defaults(write, capsys, monkeypatch) -> None:
    monkeypatch.setenv("API_KEY", "super-secret-value")
    spec = write(
        "app.yaml",
        MINIMAL.replace(
            "  source: builtin\n  id: tiny-gpt2\n",
            "  source: openai-compatible\n  base_url: https://x/v1\n  id: m\n"
            "  api_key: ${secret:API_KEY}\n",
        ),
    )
    assert main(["show", str(spec), "--format", "json"]) == 0
    out = capsys.readouterr().out
    assert "super-secret-value" not in out
    data = json.loads(out)
    assert data["model"]["api_key"] == "${secret:API_KEY}"
    assert data["model"]["generation"]["max_new_tokens"] == 256
    assert "environments" not in data
    assert main(["show", str(spec)]) == 0
    assert "api_key: ${secret:API_KEY}" in capsys.readouterr().out


def test_show_reports_errors_without_traceback(write, capsys) -> None:
    spec = write("app.yaml", "- not a spec\n")
    assert main(["show", str(spec)]) == 1
    err = capsys.readouterr().err
    assert "LS105" in err and "Traceback" not in err


def test_explain_shows_provenance(write, capsys) -> None:
    write("t.jsonl", "{}\n")
    spec = write(
        "app.yaml",
        "vars: {n: 4}\n"
        + MINIMAL
        + """\
finetune:
  dataset: {train: t.jsonl}
  compute: {mixed_precision: bf16, num_processes: "${vars.n}"}
environments:
  prod:
    finetune: {compute: {num_processes: 8}}
""",
    )
    assert main(["explain", str(spec), "-e", "prod", "finetune.compute"]) == 0
    out = capsys.readouterr().out
    assert "finetune.compute  (environment: prod)" in out
    line = next(x for x in out.splitlines() if "num_processes" in x)
    assert "app.yaml:18:41" in line and "[environments.prod]" in line
    line = next(x for x in out.splitlines() if "mixed_precision" in x)
    assert "app.yaml:15:30" in line and "[base]" in line
    assert "default" in next(x for x in out.splitlines() if ".strategy" in x)
    assert main(["explain", str(spec), "finetune.compute.num_processes"]) == 0
    assert 'from "${vars.n}"' in capsys.readouterr().out
    assert main(["explain", str(spec), "finetune.nope"]) == 1


def test_explain_json(write, capsys) -> None:
    spec = write("app.yaml")
    assert main(["explain", str(spec), "model", "--format", "json"]) == 0
    entries = {e["path"]: e for e in json.loads(capsys.readouterr().out)}
    assert entries["model.id"]["source"]["line"] == 7
    assert entries["model.dtype"]["source"] is None


def test_init_scaffolds_a_valid_spec(repo, capsys) -> None:
    assert main(["init", "help-desk"]) == 0
    spec = repo / "specs" / "help-desk.yaml"
    assert spec.is_file() and (repo / "specs/data/help-desk/train.jsonl").is_file()
    assert main(["validate", "specs", "--strict"]) == 0
    assert main(["init", "help-desk"]) == 1  # refuses to overwrite
    assert "already exists" in capsys.readouterr().err
    assert main(["init", "Bad_Name"]) == 1


def test_schema_check_and_write(repo, capsys) -> None:
    assert main(["schema", "--check"]) == 1  # nothing written yet
    assert main(["schema", "--docs", "docs"]) == 0
    assert (repo / "schemas/llmspec.schema.json").is_file()
    assert main(["schema", "--docs", "docs", "--check"]) == 0


def test_real_process_exit_codes_and_no_traceback(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.yaml"
    lines = ['a0: &a0 ["x","x","x","x","x","x","x","x","x"]']
    lines += [f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 9)]
    bomb.write_text("\n".join(lines) + "\n")
    result = run_cli("validate", str(bomb))
    assert result.returncode == 1
    assert "LS108" in result.stdout and "Traceback" not in result.stdout + result.stderr
    assert run_cli("--version").stdout.startswith("llmspec ")


def test_examples_validate_in_every_environment() -> None:
    result = run_cli("validate", "specs", "--strict", cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    summary = result.stdout.strip().splitlines()[-1]
    assert summary.startswith("3 spec(s), 11 spec-environment(s): 0 error(s), 0 warning(s)")


def test_an_overlay_file_named_directly_validates_its_spec(capsys) -> None:
    assert main(["validate", str(ROOT / "specs" / "docs-assistant.staging.yaml")]) == 0
    assert "docs-assistant.yaml  (base, dev, prod, staging)" in capsys.readouterr().out


def test_a_short_lived_command_exits_fast_with_its_output_and_code(write) -> None:
    """`validate` and the other read-only commands leave with os._exit once flushed: the whole
    output arrives (larger than a pipe buffer), and the exit code is the command's."""
    good = write("good.yaml")
    assert run_cli("validate", str(good)).returncode == 0
    bad = [write(f"bad{i}.yaml", MINIMAL.replace("tiny-gpt2", "nope")) for i in range(150)]
    done = run_cli("validate", *map(str, bad), "--format", "json")
    assert done.returncode == 1, done.stderr
    assert len(done.stdout) > 65536 and json.loads(done.stdout)["errors"] == 150
    # a reader that goes away early (`llmspec validate … | head -c 10`) is no error
    shell = f"{sys.executable} -m llmspec validate {' '.join(map(str, bad))} | head -c 10"
    piped = subprocess.run(shell, shell=True, capture_output=True, text=True, timeout=120)
    assert piped.returncode == 0 and len(piped.stdout) == 10
    assert "Traceback" not in piped.stderr, piped.stderr
