"""`llmspec diff SPEC`: the semantic difference between two revisions or two environments of a
spec, on the resolved values (overlays merged, defaults filled in, secrets as references)."""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import tarfile
import tempfile
from pathlib import Path
from typing import Any

from llmspec.cli.common import Formatter, print_diagnostics
from llmspec.core.diagnostics import SpecError, error

HELP = "what differs between two git revisions, or two environments, of a spec (resolved)"
EXAMPLES = """examples:
  llmspec diff specs/app.yaml -e prod --from-ref main          main's prod vs the working tree's
  llmspec diff specs/app.yaml --env-a staging --env-b prod      staging vs prod
  llmspec diff specs/app.yaml --env-a staging --env-b prod --format markdown > diff.md

Values are compared after resolution: overlays merged, variables interpolated, defaults filled
in; a change that resolves to the same value is no change. --exit-code exits 1 on a difference."""


def add_parser(sub: Any, name: str) -> None:
    parser = sub.add_parser(
        name, help=HELP, description=HELP, epilog=EXAMPLES, formatter_class=Formatter
    )
    parser.add_argument("spec", metavar="SPEC", help="spec file")
    parser.add_argument("-e", "--env", help="environment, with --from-ref (default: the base)")
    parser.add_argument("--from-ref", metavar="REF", help="git revision to compare with")
    parser.add_argument("--env-a", metavar="ENV", help="first environment")
    parser.add_argument("--env-b", metavar="ENV", help="second environment")
    parser.add_argument(
        "--format", choices=("text", "json", "markdown"), default="text", help="output"
    )
    parser.add_argument("--exit-code", action="store_true", help="exit 1 when they differ")


def run(args: argparse.Namespace) -> int:
    from llmspec.plan.planner import diff_values

    if bool(args.from_ref) == bool(args.env_a or args.env_b):
        raise SpecError(
            [error("LS307", "give either --from-ref REF, or --env-a and --env-b", hint=EXAMPLES)]
        )
    if args.from_ref:
        with tempfile.TemporaryDirectory() as tmp:
            old_spec = _at_revision(Path(args.spec), args.from_ref, Path(tmp))
            old = _resolved(str(old_spec), args.env)
        new = _resolved(args.spec, args.env)
        labels = (f"{args.from_ref}", "working tree")
    else:
        if not (args.env_a and args.env_b):
            raise SpecError([error("LS307", "--env-a and --env-b go together")])
        old, new = _resolved(args.spec, args.env_a), _resolved(args.spec, args.env_b)
        labels = (args.env_a, args.env_b)
    if old is None or new is None:
        return 1
    changes = diff_values(_indexed(old), _indexed(new))
    print(_render(changes, labels, args.format))
    return 1 if changes and args.exit_code else 0


def _indexed(value: Any) -> Any:
    """Lists of mappings (gates, targets, metrics) by position, so a change names the item's
    field (`evaluation.gates.0.min_examples`) rather than the whole list."""
    if isinstance(value, dict):
        return {k: _indexed(v) for k, v in value.items()}
    if isinstance(value, list) and any(isinstance(v, dict) for v in value):
        return {str(i): _indexed(v) for i, v in enumerate(value)}
    return value


def _resolved(spec: str, env: str | None) -> dict[str, Any] | None:
    """The spec's values in ``env``, schema-validated; the semantic checks are `validate`'s
    business (an old revision may fail today's), not the comparison's."""
    from llmspec.frontend import display_path, load, validate_document
    from llmspec.resolve.interpolate import interpolate
    from llmspec.resolve.overlay import select_environment

    try:
        source = load(spec)
        doc = source.document
        if env is not None:
            doc = select_environment(doc, env, source.overlays, display_path)
        validated = validate_document(interpolate(doc))
    except SpecError as exc:
        print_diagnostics(exc.diagnostics)
        return None
    data: dict[str, Any] = validated.model_dump(mode="json", exclude={"environments"})
    return data


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


def _render(changes: list[tuple[str, Any, Any]], labels: tuple[str, str], fmt: str) -> str:
    def show(value: Any) -> str:
        return "—" if value is None else json.dumps(value, ensure_ascii=False, default=str)

    if fmt == "json":
        rows = [{"path": p, labels[0]: a, labels[1]: b} for p, a, b in changes]
        return json.dumps({"a": labels[0], "b": labels[1], "changes": rows}, indent=2)
    if not changes:
        return f"No differences between {labels[0]} and {labels[1]}."
    if fmt == "markdown":
        lines = [f"| path | {labels[0]} | {labels[1]} |", "|---|---|---|"]
        lines += [f"| `{p}` | `{show(a)}` | `{show(b)}` |" for p, a, b in changes]
        return "\n".join(lines)
    width = max(len(p) for p, _, _ in changes)
    lines = [f"{len(changes)} difference(s): {labels[0]} → {labels[1]}"]
    lines += [f"  {p.ljust(width)}  {show(a)} → {show(b)}" for p, a, b in changes]
    return "\n".join(lines)
