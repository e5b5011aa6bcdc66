"""Checked-in files generated from the code stay current, and the schema works in editors' tools."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from llmspec.authoring.schema import generated_docs, json_schema, json_schema_text
from tests.conftest import MINIMAL, ROOT

EXAMPLES = sorted(p for p in (ROOT / "specs").glob("*.yaml") if p.name.count(".") == 1)


def test_json_schema_is_current(golden) -> None:
    golden(ROOT / "schemas" / "llmspec.schema.json", json_schema_text())


@pytest.mark.parametrize("name", sorted(generated_docs()))
def test_generated_docs_are_current(golden, name: str) -> None:
    golden(ROOT / "docs" / name, generated_docs()[name])


def test_reference_documents_every_field() -> None:
    from pydantic import BaseModel

    from llmspec.authoring.schema import _models_in
    from llmspec.spec import Spec

    reference = generated_docs()["spec-reference.md"]
    seen: set[type[BaseModel]] = set()
    queue: list[type[BaseModel]] = [Spec]
    while queue:
        model = queue.pop()
        if model in seen:
            continue
        seen.add(model)
        for name, field in model.model_fields.items():
            assert field.description, f"{model.__name__}.{name} has no description"
            assert f"| `{name}` |" in reference
            queue.extend(_models_in(field.annotation))


def test_schema_has_titles_descriptions_and_examples() -> None:
    schema = json_schema()
    assert schema["$schema"].endswith("2020-12/schema")
    props = schema["properties"]
    assert props["metadata"]["description"]
    text = json.dumps(schema)
    assert '"examples"' in text and "Interpolation" in schema["$defs"]


def check_jsonschema(*files: Path) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).with_name("check-jsonschema")
    return subprocess.run(
        [str(exe), "--schemafile", str(ROOT / "schemas/llmspec.schema.json"), *map(str, files)],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_jsonschema_accepts_the_examples() -> None:
    assert EXAMPLES
    result = check_jsonschema(*EXAMPLES)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    "broken",
    [
        pytest.param(MINIMAL.replace("tiny-gpt2", "tiny-gtp2"), id="bad-enum"),
        pytest.param(
            MINIMAL.replace("  id: tiny-gpt2\n", "  id: tiny-gpt2\n  sed: 1\n"), id="unknown-key"
        ),
        pytest.param(MINIMAL.replace("  name: demo\n", ""), id="missing-name"),
        pytest.param(
            MINIMAL + "finetune: {dataset: {train: t.jsonl}, training: {epochs: many}}\n",
            id="wrong-type",
        ),
    ],
)
def test_check_jsonschema_rejects_invalid_specs(tmp_path: Path, broken: str) -> None:
    spec = tmp_path / "bad.yaml"
    spec.write_text(broken)
    assert check_jsonschema(spec).returncode == 1


def test_validate_and_plan_import_no_heavy_library() -> None:
    # A finder records every attempt to import a heavy library, installed here or not.
    code = f"""
import sys
HEAVY = ("torch", "transformers", "peft", "accelerate", "mlflow", "lancedb",
         "sentence_transformers")
tried = []
class Recorder:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in HEAVY:
            tried.append(name)
        return None
sys.meta_path.insert(0, Recorder())
from llmspec.cli import main  # main, not the console entry: that leaves with os._exit
for argv in (["validate", {str(ROOT / "specs")!r}],
             ["plan", {str(ROOT / "specs" / "support-bot.yaml")!r}, "-e", "prod"]):
    assert main(argv) == 0, argv
heavy = [m for m in HEAVY if m in sys.modules] + tried
print("HEAVY=" + ",".join(heavy))
"""
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "HEAVY="
