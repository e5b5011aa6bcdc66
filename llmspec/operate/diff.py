"""`llmspec diff` and `plan --from/--to`: the resolved values of two environments, or of a git
revision and the working tree, compared field by field. One comparison for both commands, so
they never disagree."""

from __future__ import annotations

import io
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llmspec.core.diagnostics import SpecError, error


@dataclass(frozen=True)
class SpecDiff:
    """What differs from ``a`` to ``b``: (dotted path, value in a, value in b), sorted by path;
    None where a side has no value."""

    a: str
    b: str
    changes: tuple[tuple[str, Any, Any], ...]


def compare(old: Any, new: Any, a: str, b: str) -> SpecDiff:
    from llmspec.plans.planner import diff_values

    return SpecDiff(a, b, tuple(diff_values(*_aligned(old, new))))


def environments(spec: str, env_a: str, env_b: str) -> SpecDiff:
    return compare(values(spec, env_a), values(spec, env_b), env_a, env_b)


def revision(spec: str, env: str | None, ref: str) -> SpecDiff:
    """The spec at a git revision against the working tree."""
    with tempfile.TemporaryDirectory() as tmp:
        old = values(str(_at_revision(Path(spec), ref, Path(tmp))), env)
    return compare(old, values(spec, env), ref, "working tree")


def values(spec: str, env: str | None) -> dict[str, Any]:
    """The spec's values in ``env``, schema-validated, defaults filled in, secrets kept as
    references; the semantic checks are `validate`'s business (an old revision may fail
    today's), not the comparison's."""
    from llmspec.frontend import display_path, load, validate_document
    from llmspec.resolve.interpolate import interpolate
    from llmspec.resolve.overlay import select_environment

    source = load(spec)
    doc = source.document
    if env is not None:
        doc = select_environment(doc, env, source.overlays, display_path)
    validated = validate_document(interpolate(doc))
    data: dict[str, Any] = validated.model_dump(mode="json", exclude={"environments"})
    return data


def _aligned(old: Any, new: Any) -> tuple[Any, Any]:
    """Both sides with lists of mappings (gates, targets, metrics) keyed by position, so a
    change names the item's field (`evaluation.gates.0.min_examples`) rather than the whole
    list; an empty or absent list on one side is an empty mapping, so an added item reads
    `serving.targets.0: — → {…}`."""
    if isinstance(old, dict) and isinstance(new, dict):
        pairs = {k: _aligned(old.get(k), new.get(k)) for k in {*old, *new}}
        return (
            {k: a for k, (a, _) in pairs.items() if k in old},
            {k: b for k, (_, b) in pairs.items() if k in new},
        )
    sides = (old, new)
    items = [item for side in sides if isinstance(side, list) for item in side]
    if any(isinstance(i, dict) for i in items) and all(isinstance(s, list | None) for s in sides):
        return _aligned(*({str(i): v for i, v in enumerate(s or [])} for s in sides))
    return old, new


def _at_revision(spec: Path, ref: str, into: Path) -> Path:
    """The spec's folder as it was at ``ref``, extracted under ``into``; the spec's path there."""
    folder = spec.resolve().parent
    top = subprocess.run(
        ["git", "-C", str(folder), "rev-parse", "--show-toplevel"],
        capture_output=True, text=True,
    )  # fmt: skip
    if top.returncode != 0:
        raise SpecError([error("LS100", f"{spec} is not in a git repository", hint="use --env-a")])
    root = Path(top.stdout.strip())
    relative = folder.relative_to(root).as_posix() or "."
    archive = subprocess.run(
        ["git", "-C", str(root), "archive", "--format=tar", ref, "--", relative],
        capture_output=True,
    )  # fmt: skip
    if archive.returncode != 0:
        raise SpecError(
            [
                error(
                    "LS100",
                    f"`{spec}` cannot be read at `{ref}`: "
                    + archive.stderr.decode(errors="replace").strip(),
                    hint="check the revision name (`git log --oneline`)",
                )
            ]
        )
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(into, filter="data")
    (into / ".git").mkdir(exist_ok=True)  # the repository root, as in the working tree
    old = into / relative / spec.name
    if not old.is_file():
        raise SpecError([error("LS100", f"`{spec.name}` did not exist at `{ref}`")])
    return old
