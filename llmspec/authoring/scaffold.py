"""`llmspec init NAME`: a spec and its data folders that validate at once."""

from __future__ import annotations

import os
import re
from pathlib import Path

from llmspec.core.diagnostics import Span, SpecError, error
from llmspec.core.layout import constraints_file, templates_root

NAME = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")


def scaffold(
    name: str, folder: str | os.PathLike[str] = "specs", owner: str = "my-team"
) -> list[Path]:
    """Write ``<folder>/<name>.yaml`` and ``<folder>/data/<name>/…``; refuses to overwrite."""
    if not NAME.fullmatch(name):
        raise SpecError(
            [
                error(
                    "LS205",
                    f"`{name}` is not a valid app name",
                    Span("<init>", 1, 1),
                    hint="lowercase letters, digits and `-`, e.g. `support-bot`",
                )
            ]
        )
    from jinja2 import Environment, FileSystemLoader, StrictUndefined

    root = Path(folder)
    data_dir = f"data/{name}"
    files = {
        root / f"{name}.yaml": "spec.yaml.j2",
        root / data_dir / "corpus" / "getting-started.md": "corpus.md.j2",
        root / data_dir / "train.jsonl": "train.jsonl.j2",
        root / data_dir / "eval.jsonl": "eval.jsonl.j2",
    }
    existing = [p for p in files if p.exists()]
    if existing:
        raise SpecError(
            [
                error(
                    "LS100",
                    f"`{p}` already exists; nothing was written",
                    Span(str(p), 1, 1),
                    hint="choose another name or folder",
                )
                for p in existing
            ]
        )
    env = Environment(
        loader=FileSystemLoader(templates_root() / "init"),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
    )
    context = {
        "name": name,
        "owner": owner,
        "data_dir": data_dir,
        "table": name.replace("-", "_"),
        "spec_file": str(root / f"{name}.yaml"),
    }
    rendered = {path: env.get_template(tpl).render(context) for path, tpl in files.items()}
    for path, text in rendered.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
    return list(rendered)


CI = {"github": (Path(".github") / "workflows" / "llmspec.yml", "github-workflow.yml.j2")}
# How the workflow installs llmspec: the repository says, in a file it commits and may edit
REQUIREMENTS = Path(".github") / "llmspec-requirements.txt"
# ... through the versions this llmspec was tested with (a copy: the repository may refresh it)
CONSTRAINTS = Path(".github") / "llmspec-constraints.txt"
REQUIREMENTS_TEXT = """\
# How CI installs llmspec (.github/workflows/llmspec.yml): edit to pin another version,
# a wheel (./wheels/llmspec-….whl) or a git URL (llmspec[all] @ git+https://…).
llmspec[all,s3]=={version}
"""


def declared_environments(specs: str) -> set[str]:
    """The environments the specs in ``specs`` declare (top-level `environments:` keys)."""
    import yaml

    found: set[str] = set()
    for path in Path(specs).glob("*.yaml"):
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError):
            continue  # validate reports it
        if isinstance(data, dict) and isinstance(data.get("environments"), dict):
            found.update(str(k) for k in data["environments"])
    return found


def write_ci(kind: str, specs: str = "specs") -> list[Path]:
    """The CI workflow for ``kind`` (only `github` today): merges apply to `staging` (or `dev`
    where no spec declares staging), tags to `prod`; refuses to overwrite. Also the requirements
    file it installs llmspec from, unless the repository has one."""
    from jinja2 import Environment, FileSystemLoader, StrictUndefined

    from llmspec.version import __version__

    target, template = CI[kind]
    if target.exists():
        raise SpecError(
            [
                error(
                    "LS100",
                    f"`{target}` already exists; nothing was written",
                    Span(str(target), 1, 1),
                    hint="remove it first to regenerate it",
                )
            ]
        )
    env = Environment(
        loader=FileSystemLoader(templates_root() / "ci"),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
    )
    declared = declared_environments(specs)
    staging = "staging" if "staging" in declared or "dev" not in declared else "dev"
    text = env.get_template(template).render(
        specs=specs.rstrip("/"),
        staging=staging,
        requirements=REQUIREMENTS.as_posix(),
        constraints=CONSTRAINTS.as_posix(),
    )
    written = [target]
    if not REQUIREMENTS.exists():
        REQUIREMENTS.parent.mkdir(parents=True, exist_ok=True)
        REQUIREMENTS.write_text(REQUIREMENTS_TEXT.format(version=__version__), encoding="utf-8")
        written.append(REQUIREMENTS)
    if not CONSTRAINTS.exists():
        CONSTRAINTS.parent.mkdir(parents=True, exist_ok=True)
        CONSTRAINTS.write_text(
            f"# The versions llmspec {__version__} was tested with; pip installs through them.\n"
            + constraints_file().read_text(encoding="utf-8"),
            encoding="utf-8",
        )
        written.append(CONSTRAINTS)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(target)
    return written
