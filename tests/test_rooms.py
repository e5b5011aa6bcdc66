"""The layout holds: one room per layer, each importing only the rooms below it (imports under
``if TYPE_CHECKING:`` name types and do not count), a docstring at each room's door, no module
over 600 lines, and only a few modules flat in ``llmspec/``."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import ROOT

PACKAGE = ROOT / "llmspec"
FRONT_END = {"core", "source", "resolve", "spec", "checks"}
# room -> the rooms it may import; a room may always import itself
ALLOWED: dict[str, set[str]] = {
    "core": set(),
    "source": {"core"},
    "resolve": {"core", "source"},
    "spec": {"core", "source"},
    "checks": {"core", "source", "spec"},
    "frontend": FRONT_END,
    "state": {"core"},
    "integrations": {"core"},
    "runtime": set(),  # ships alone inside the model, the training job and the server
    # the graph asks each kind to declare itself: the step interface lives in the engine
    "plans": {"core", "state", "engine"},
    "engine": FRONT_END | {"frontend", "plans", "state"},
    "steps": {"engine", "kinds"},  # the plug-in import paths, old and new
    "kinds": {"core", "spec", "plans", "state", "engine", "integrations", "runtime"},
    "operate": FRONT_END
    | {"frontend", "plans", "state", "engine", "kinds", "integrations", "runtime"},
    "authoring": {"core", "spec", "cli"},  # the command reference reads the CLI's parsers
    "api": FRONT_END
    | {"frontend", "plans", "state", "engine", "kinds", "integrations", "operate", "authoring"}
    | {"runtime"},
    # the CLI calls the API; it renders plans and diagnostics and implements the progress hook
    "cli": {"api", "core", "frontend", "source", "plans", "engine"},
    "__init__": {"core"},
    "__main__": {"cli"},
}
# what the CLI may take from the rooms under the API: views, saved plans, the hook interface
CLI_MODULES = {
    "llmspec.plans.views",
    "llmspec.plans.saved",
    "llmspec.engine.hooks",
    "llmspec.frontend",
    "llmspec.source.document",
}


def _room(path: Path) -> str:
    relative = path.relative_to(PACKAGE)
    return relative.parts[0] if len(relative.parts) > 1 else relative.stem


def _imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    typing_only = {
        id(node)
        for block in ast.walk(tree)
        if isinstance(block, ast.If) and "TYPE_CHECKING" in ast.unparse(block.test)
        for node in ast.walk(block)
    }
    found = []
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module == "llmspec":
                found += [(node.lineno, f"llmspec.{a.name}") for a in node.names]
            else:
                found.append((node.lineno, node.module))
        elif isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
    return [(line, name) for line, name in found if name.split(".")[0] == "llmspec"]


def _modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_a_room_imports_only_the_rooms_below_it(path: Path) -> None:
    room = _room(path)
    bad = []
    for line, name in _imports(path):
        target = name.split(".")[1] if "." in name else "__init__"
        if target in (room, "version"):
            continue
        below_api = room == "cli" and target not in ("api", "core")
        if target not in ALLOWED[room] or (below_api and name not in CLI_MODULES):
            bad.append(f"{path.relative_to(ROOT)}:{line} imports {name}")
    assert not bad, "\n".join(bad)


def test_every_room_says_what_lives_there() -> None:
    rooms = [p for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").is_file()]
    undocumented = [
        p.name
        for p in rooms
        if ast.get_docstring(ast.parse((p / "__init__.py").read_text())) is None
    ]
    assert not undocumented
    assert set(ALLOWED) >= {p.name for p in rooms}  # a new room gets its row above


def test_modules_stay_small_and_few_stay_flat() -> None:
    long = [
        f"{p.relative_to(ROOT)}: {n} lines"
        for p in _modules()
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > 600
    ]
    assert not long
    flat = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert flat == ["__init__.py", "__main__.py", "frontend.py", "version.py"]
