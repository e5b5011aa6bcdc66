"""The runtime ships alone: its modules import no other llmspec room, a packaged model's code is
`llmspec/runtime` and nothing else (and answers where no other llmspec module can be imported),
and the files the compiler writes for it (`app.json`, `job.json`) round-trip through their
types."""

from __future__ import annotations

import ast
import dataclasses
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from llmspec.runtime.contracts import (
    AppConfig,
    ContractError,
    EmbeddingConfig,
    EndpointConfig,
    EndpointModelConfig,
    GenerationConfig,
    JobConfig,
    LimitsConfig,
    LocalModelConfig,
    MonitoringConfig,
    PromptConfig,
    RetrievalConfig,
)
from tests.conftest import ROOT

RUNTIME = ROOT / "llmspec" / "runtime"
GOLDEN_JOBS = sorted((ROOT / "tests" / "golden" / "render").glob("*/*/finetune/job.json"))


# ---- imports ----------------------------------------------------------------------------


def outside_imports(source: str, module: str) -> list[str]:
    """The llmspec modules outside `llmspec.runtime` that ``source`` (the module ``module``)
    imports, absolute or relative, at any depth of the code."""
    package = module.rsplit(".", 1)[0]
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                if node.level > len(parts):
                    found.append(f"{'.' * node.level}{base} (above the top package)")
                    continue
                anchor = ".".join(parts[: len(parts) - node.level + 1])
                base = f"{anchor}.{base}" if base else anchor
            # `from llmspec import x` imports llmspec.x when x is a module
            names = [base] if base != "llmspec" else [f"llmspec.{a.name}" for a in node.names]
        else:
            continue
        for name in names:
            inside = name == "llmspec.runtime" or name.startswith("llmspec.runtime.")
            if (name == "llmspec" or name.startswith("llmspec.")) and not inside:
                found.append(name)
    return found


@pytest.mark.parametrize(
    ("source", "module", "expected"),
    [
        pytest.param("import llmspec.runtime.llm", "llmspec.runtime.x", [], id="runtime"),
        pytest.param("import os, json", "llmspec.runtime.x", [], id="stdlib"),
        pytest.param(
            "from llmspec.core.diagnostics import SpecError",
            "llmspec.runtime.x",
            ["llmspec.core.diagnostics"],
            id="absolute-from",
        ),
        pytest.param(
            "def f():\n    import llmspec.operate.feedback",
            "llmspec.runtime.x",
            ["llmspec.operate.feedback"],
            id="inside-a-function",
        ),
        pytest.param(
            "from llmspec import api", "llmspec.runtime.x", ["llmspec.api"], id="from-top"
        ),
        pytest.param("from llmspec import runtime", "llmspec.runtime.x", [], id="from-top-runtime"),
        pytest.param("from . import llm", "llmspec.runtime.x", [], id="relative-sibling"),
        pytest.param(
            "from ..core import secrets", "llmspec.runtime.x", ["llmspec.core"], id="relative-up"
        ),
        pytest.param(
            "from .. import spec", "llmspec.runtime.x", ["llmspec.spec"], id="relative-top"
        ),
        pytest.param(
            "from ... import x", "llmspec.runtime.x", ["... (above the top package)"], id="above"
        ),
        pytest.param("import llmspec", "llmspec.runtime.x", ["llmspec"], id="the-top-package"),
    ],
)
def test_the_import_check_sees_every_way_out(source: str, module: str, expected: list[str]) -> None:
    assert outside_imports(source, module) == expected


def test_no_runtime_module_imports_another_llmspec_room() -> None:
    offenders = {}
    for path in sorted(RUNTIME.rglob("*.py")):
        relative = path.relative_to(ROOT).with_suffix("")
        parts = relative.parts[:-1] if relative.name == "__init__" else relative.parts
        # a package's __init__ is its own module: relative imports anchor one level lower
        module = ".".join(parts) + (".__init__" if relative.name == "__init__" else "")
        found = outside_imports(path.read_text(encoding="utf-8"), module)
        if found:
            offenders[str(path.relative_to(ROOT))] = found
    assert offenders == {}


# ---- contracts --------------------------------------------------------------------------

PROMPT = PromptConfig("answer", "Be brief.", "Q: {{ question }}", None, ("question",))
RETRIEVAL = RetrievalConfig(
    ".llmspec/lancedb",
    "help_center",
    EmbeddingConfig("sentence-transformers/all-MiniLM-L6-v2", None),
    4,
    True,
    "rrf",
    20,
    10,
    "cosine",
)
APP = AppConfig(
    "support-bot",
    PROMPT,
    GenerationConfig(256, 0.0, 1.0, 1.0, ("###",)),
    LimitsConfig(1024, 1.5),
    LocalModelConfig("builtin", "float32"),
    dataclasses.replace(RETRIEVAL, version=3),
    MonitoringConfig(True, True, 0.5),
)
ENDPOINT_APP = dataclasses.replace(
    APP,
    prompt=dataclasses.replace(
        PROMPT, template=None, messages=(("system", "{{ system }}"), ("user", "{{ question }}"))
    ),
    model=EndpointModelConfig(
        "openai-compatible",
        "http://primary/v1",
        "gpt",
        "PRIMARY_KEY",
        (EndpointConfig("http://backup/v1", "small", None),),
        30.0,
        1,
    ),
    retrieval=None,
)


@pytest.mark.parametrize("config", [APP, ENDPOINT_APP], ids=["local", "endpoint"])
def test_app_json_round_trips(config: AppConfig) -> None:
    text = config.to_json()
    assert AppConfig.from_json(text) == config
    assert AppConfig.from_json(text).to_json() == text


def test_a_job_files_retrieval_has_no_version_and_a_models_has_one() -> None:
    assert "version" not in RETRIEVAL.to_dict()
    assert APP.to_dict()["retrieval"]["version"] == 3
    assert RetrievalConfig.from_dict(RETRIEVAL.to_dict()) == RETRIEVAL


@pytest.mark.parametrize("path", GOLDEN_JOBS, ids=lambda p: "/".join(p.parts[-4:-2]))
def test_the_rendered_job_files_round_trip_byte_for_byte(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    job = JobConfig.from_json(text)
    assert job.to_json() == text
    assert JobConfig.from_json(job.to_json()) == job


def _golden_job() -> dict[str, Any]:
    return dict(json.loads(GOLDEN_JOBS[0].read_text(encoding="utf-8")))


def _without(data: dict[str, Any], *path: str) -> dict[str, Any]:
    parent = data
    for key in path[:-1]:
        parent = parent[key]
    del parent[path[-1]]
    return data


def _with(data: dict[str, Any], value: Any, *path: str) -> dict[str, Any]:
    parent = data
    for key in path[:-1]:
        parent = parent[key]
    parent[path[-1]] = value
    return data


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        pytest.param(
            lambda d: _with(d, 1, "surprise"), "job.json: unknown key(s) surprise", id="unknown"
        ),
        pytest.param(
            lambda d: _without(d, "method"), "job.json: missing key(s) method", id="missing"
        ),
        pytest.param(
            lambda d: _without(d, "training", "seed"),
            "job.json: training: missing key(s) seed",
            id="missing-nested",
        ),
        pytest.param(
            lambda d: _with(d, {"patience": 2}, "training", "early_stopping"),
            "job.json: training.early_stopping: missing key(s) min_delta",
            id="missing-deeper",
        ),
        pytest.param(
            lambda d: _with(d, "yes", "compute", "fsdp"),
            "job.json: compute.fsdp: expected an object, got str",
            id="not-an-object",
        ),
        pytest.param(
            lambda d: _with(d, [{"role": "user", "text": "x"}], "prompt", "messages"),
            "job.json: prompt.messages[0]: unknown key(s) text; missing key(s) content",
            id="message",
        ),
    ],
)
def test_a_job_file_of_another_shape_says_where(edit: Any, message: str) -> None:
    with pytest.raises(ContractError) as raised:
        JobConfig.from_dict(edit(_golden_job()))
    assert str(raised.value).startswith(message), str(raised.value)


@pytest.mark.parametrize(
    ("base", "edit", "message"),
    [
        pytest.param(
            APP,
            lambda d: _without(d, "monitoring", "feedback"),
            "app.json: monitoring: missing key(s) feedback",
            id="missing",
        ),
        pytest.param(
            APP,
            lambda d: _with(d, 1, "model", "timeout"),
            "app.json: model: unknown key(s) timeout",
            id="unknown-local",
        ),
        pytest.param(
            ENDPOINT_APP,
            lambda d: _with(d, [{"base_url": "u"}], "model", "fallbacks"),
            "app.json: model.fallbacks[0]: missing key(s) api_key, id",
            id="endpoint-fallback",
        ),
        pytest.param(
            APP,
            lambda d: _without(d, "retrieval", "embedding", "revision"),
            "app.json: retrieval.embedding: missing key(s) revision",
            id="retrieval",
        ),
    ],
)
def test_an_app_json_of_another_shape_says_where(base: AppConfig, edit: Any, message: str) -> None:
    with pytest.raises(ContractError) as raised:
        AppConfig.from_dict(edit(base.to_dict()))
    assert str(raised.value).startswith(message), str(raised.value)


def test_a_file_that_is_not_json_is_a_contract_error() -> None:
    with pytest.raises(ContractError, match=r"app\.json is not JSON"):
        AppConfig.from_json("{")


# ---- the packaged model -----------------------------------------------------------------

SPEC = """\
apiVersion: llmspec/v1
kind: LLMApp
metadata: {name: alone}
model: {source: builtin, id: tiny-gpt2}
prompts:
  templates:
    answer: {template: "Q: {{ question }} A:"}
environments: {dev: {}}
"""

# Run before anything else in the child: llmspec's own checkout leaves sys.path, and importing
# any llmspec module but the namespace `llmspec` and `llmspec.runtime.*` fails.
BOOTSTRAP = """\
import importlib.abc, os, sys

def checkout(entry):
    return os.path.isfile(os.path.join(entry or ".", "llmspec", "__init__.py"))


sys.path[:] = [entry for entry in sys.path if not checkout(entry)]


class OnlyTheRuntime(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        runtime = name == "llmspec.runtime" or name.startswith("llmspec.runtime.")
        if name.startswith("llmspec.") and not runtime:
            raise ImportError(f"{name} is not part of the runtime")
        return None


sys.meta_path.insert(0, OnlyTheRuntime())
"""

LOAD = """\
import json, sys
import mlflow

model = mlflow.pyfunc.load_model(sys.argv[1])
import pandas as pd

question = pd.DataFrame({"question": ["How do I reset my password?"]})
answers = model.predict(question, params={"max_new_tokens": 4})
import llmspec, llmspec.runtime

print(json.dumps({
    "answer": str(answers.iloc[0]["answer"]),
    "tokens_in": int(answers.iloc[0]["tokens_in"]),
    "tokens_out": int(answers.iloc[0]["tokens_out"]),
    "llmspec_file": getattr(llmspec, "__file__", None),
    "llmspec_path": list(llmspec.__path__),
    "runtime_file": llmspec.runtime.__file__,
    "modules": sorted(m for m in sys.modules if m == "llmspec" or m.startswith("llmspec.")),
}))
"""


@pytest.fixture(scope="module")
def packaged(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny app applied up to its package, and the logged model downloaded to a folder."""
    repo = tmp_path_factory.mktemp("alone")
    (repo / ".git").mkdir()
    (repo / "app.yaml").write_text(SPEC, encoding="utf-8")
    run = [sys.executable, "-m", "llmspec"]
    done = subprocess.run(
        [*run, "apply", "app.yaml", "-e", "dev", "--target", "package.alone"],
        cwd=repo, capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    shown = subprocess.run(
        [*run, "state", "show", "app.yaml", "-e", "dev", "--json"],
        cwd=repo, capture_output=True, text=True, check=True,
    )  # fmt: skip
    outputs = json.loads(shown.stdout)["resources"]["package.alone"]["outputs"]
    import mlflow

    mlflow.set_tracking_uri(outputs["tracking_uri"])
    folder = repo / "downloaded"
    folder.mkdir()
    return Path(mlflow.artifacts.download_artifacts(outputs["version_uri"], dst_path=str(folder)))


def _child(script: str, model: Path, cwd: Path, bootstrap: bool) -> dict[str, Any]:
    (cwd / "load.py").write_text((BOOTSTRAP if bootstrap else "") + LOAD, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, str(cwd / "load.py"), str(model)],
        cwd=cwd, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-4000:]
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


@pytest.mark.slow
def test_the_model_carries_the_runtime_alone_and_answers_without_the_compiler(
    packaged: Path, tmp_path: Path
) -> None:
    code = packaged / "code"
    files = sorted(str(p.relative_to(code)) for p in code.rglob("*") if p.is_file())
    assert files and all(f.startswith("llmspec/runtime/") for f in files), files
    assert not (code / "llmspec" / "__init__.py").exists()  # a namespace package
    assert "llmspec/runtime/pyfunc.py" in files and not any("__pycache__" in f for f in files)
    seen = _child(LOAD, packaged, tmp_path, bootstrap=True)
    # the untrained tiny model's answer may be blank; that it ran through the prompt is the point
    assert isinstance(seen["answer"], str) and seen["tokens_in"] > 0 and seen["tokens_out"] <= 4
    assert seen["llmspec_file"] is None  # a namespace package, first from the model's code
    assert Path(seen["llmspec_path"][0]).resolve() == (code / "llmspec").resolve()
    runtime = (code / "llmspec" / "runtime" / "__init__.py").resolve()
    assert Path(seen["runtime_file"]).resolve() == runtime
    assert all(m == "llmspec" or m.startswith("llmspec.runtime") for m in seen["modules"])


@pytest.mark.slow
def test_an_installed_llmspec_wins_over_the_models_copy(packaged: Path, tmp_path: Path) -> None:
    import llmspec

    seen = _child(LOAD, packaged, tmp_path, bootstrap=False)
    assert seen["llmspec_file"] == llmspec.__file__  # the regular package, not the namespace
    assert Path(seen["runtime_file"]).parent == Path(llmspec.__file__).parent / "runtime"
