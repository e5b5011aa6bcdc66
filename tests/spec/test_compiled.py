"""The cached root validator (spec/compiled.py): what a later process loads validates exactly as
what pydantic builds, and the pydantic internals it leans on are still what they were."""

from __future__ import annotations

import json
import os
import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic_core import SchemaSerializer, SchemaValidator

from llmspec.spec import Spec, compiled
from llmspec.spec.base import SpecModel

ROOT = Path(__file__).resolve().parents[2]
INSTALLED = {
    "__pydantic_core_schema__",
    "__pydantic_validator__",
    "__pydantic_serializer__",
    "__pydantic_complete__",
}

# Specs with schema errors of every kind the validator reports: a wrong type, an unknown key, a
# pattern, a bound, a custom model validator, a union tag, a BeforeValidator's input.
BROKEN = {
    "type": "metadata: {name: demo}\nmodel: {source: builtin, id: tiny-gpt2, seed: many}",
    "unknown": "metadata: {name: demo, colour: red}\nmodel: {source: builtin, id: tiny-gpt2}",
    "pattern": "metadata: {name: Demo_App}\nmodel: {source: builtin, id: tiny-gpt2}",
    "bound": "metadata: {name: demo}\nmodel:\n  source: builtin\n  id: tiny-gpt2\n"
    "  generation: {temperature: 9}",
    "union": "metadata: {name: demo}\nmodel: {source: nowhere, id: x}",
    "metric": "metadata: {name: demo}\nmodel: {source: builtin, id: tiny-gpt2}\n"
    "evaluation:\n  datasets: {golden: e.jsonl}\n"
    "  metrics: [{name: bleu, options: {use_stemmer: true}}]",
}
HEADER = "apiVersion: llmspec/v1\nkind: LLMApp\n"
PROMPTS = "prompts:\n  templates:\n    answer: {template: 'Q: {{ question }}'}\n"

SCRIPT = """
import json, sys
from pathlib import Path
from llmspec.api import load, resolve, validate
from llmspec.spec import Spec
from llmspec.spec.compiled import prepare

loaded = prepare(Spec)
out = {"loaded": loaded, "type": type(Spec.__pydantic_validator__).__name__, "specs": {}}
for path in sorted(Path(sys.argv[1]).glob("*.yaml")):
    if path.name.count(".") > 1:
        continue  # an overlay file
    for env in [None, *load(path).environments]:
        out["specs"][f"{path.name}:{env}"] = resolve(path, env).spec.model_dump(mode="json")
report = validate([sys.argv[2]])
out["errors"] = sorted(
    (d.code, d.message, d.span.file.rsplit("/", 1)[-1], d.span.line, d.span.col)
    for d in report.diagnostics
)
print(json.dumps(out))
"""


def _process(cache: Path, broken: Path) -> dict:
    env = {**os.environ, "XDG_CACHE_HOME": str(cache), "PYTHONPATH": str(ROOT)}
    env.pop("LLMSPEC_CACHE", None)
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(ROOT / "specs"), str(broken)],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.fixture
def broken(tmp_path: Path) -> Path:
    folder = tmp_path / "broken"
    folder.mkdir()
    (folder / ".git").mkdir()
    for name, body in BROKEN.items():
        (folder / f"{name}.yaml").write_text(HEADER + body + "\n" + PROMPTS, encoding="utf-8")
    return folder


def test_a_later_process_loads_the_validator_and_validates_the_same(
    tmp_path: Path, broken: Path
) -> None:
    cache = tmp_path / "cache"
    first = _process(cache, broken)
    stored = list((cache / "llmspec" / "validators").glob("Spec-*.pickle"))
    assert len(stored) == 1, "the first process stores the validator it built"
    second = _process(cache, broken)

    assert (first["loaded"], second["loaded"]) == (False, True)
    assert second["type"] == "SchemaValidator"
    assert len(first["specs"]) >= 8
    assert second["specs"] == first["specs"]
    assert second["errors"] == first["errors"]
    codes = {error[2]: error[0] for error in first["errors"]}
    assert set(codes) == {f"{name}.yaml" for name in BROKEN}, "every broken spec is reported"


def test_a_damaged_or_foreign_cache_file_is_rebuilt(tmp_path: Path, broken: Path) -> None:
    cache = tmp_path / "cache"
    _process(cache, broken)
    (stored,) = (cache / "llmspec" / "validators").glob("Spec-*.pickle")
    good = stored.read_bytes()
    for damage in (good[: len(good) // 2], pickle.dumps(("another key", {}, {}))):
        stored.write_bytes(damage)
        again = _process(cache, broken)
        assert again["loaded"] is False, "a damaged file is never used"
        assert _process(cache, broken)["loaded"] is True, "and the validator is stored again"


def test_completing_a_model_sets_what_the_cache_installs() -> None:
    """Fails when pydantic's ``complete_model_class`` starts setting something more: then
    ``compiled._install`` must set it too."""

    class Probe(SpecModel):
        x: int = 0

    before = dict(vars(Probe))
    assert not before.get("__pydantic_complete__"), "spec models build their validator lazily"
    Probe.model_rebuild()
    changed = {k for k, v in vars(Probe).items() if k not in before or v is not before[k]}
    # recomputed from what class creation already set, to equal values for a spec model
    assert changed - INSTALLED == {"__pydantic_computed_fields__", "__signature__"}
    assert changed >= INSTALLED
    assert isinstance(Probe.__pydantic_validator__, SchemaValidator)
    assert isinstance(Probe.__pydantic_serializer__, SchemaSerializer)


def test_spec_models_have_no_computed_or_deprecated_fields() -> None:
    """What ``_install`` leaves out (computed fields, deprecation descriptors) must not exist."""
    Spec.model_rebuild()
    seen: set[type] = set()

    def walk(model: type) -> None:
        if model in seen or not isinstance(model, type) or not issubclass(model, SpecModel):
            return
        seen.add(model)
        assert not model.__pydantic_decorators__.computed_fields, model
        for name, info in model.model_fields.items():
            assert info.deprecated is None, f"{model.__name__}.{name}"
        for sub in model.__subclasses__():
            walk(sub)

    walk(SpecModel)
    assert len(seen) > 40


def test_the_spec_validator_pickles() -> None:
    """A lambda in a spec model (a default factory, a BeforeValidator) cannot be pickled, and the
    validator would silently be rebuilt in every process: use a module-level function."""
    Spec.model_rebuild()
    pickle.dumps(Spec.__pydantic_core_schema__)


def test_the_key_follows_the_spec_modules(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    copy = tmp_path / "spec"
    shutil.copytree(Path(compiled.__file__).parent, copy, ignore=shutil.ignore_patterns("*.pyc"))
    monkeypatch.setattr(compiled, "_SPEC_DIR", copy)
    key = compiled._key(Spec)
    assert compiled._key(Spec) == key
    os.utime(copy / "model.py", ns=(1, 1))
    assert compiled._key(Spec) != key
