"""The resource graph: every resource a spec implies in one environment, in dependency order,
each with its inputs digest (config slice + files read + dependencies' digests).

A resource's outputs are identified by its inputs digest (content addressing), so a digest can
be computed at plan time for every resource, including those downstream of a change.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from llmspec.core.diagnostics import SpecError, error
from llmspec.engine.step import DEFAULT_ENV, DeclareContext, Resource, ResourceDecl, Step
from llmspec.plans.address import Address
from llmspec.plans.digest import FileDigests, digest_of

if TYPE_CHECKING:
    from llmspec.frontend import ResolvedSpec


@dataclass(frozen=True)
class Graph:
    app: str
    env: str
    resources: Mapping[str, Resource]  # address -> resource, dependencies first

    def closure(self, addresses: Iterable[str]) -> list[str]:
        """The given addresses and everything they need, in graph order."""
        wanted: set[str] = set()
        stack = list(addresses)
        while stack:
            address = stack.pop()
            if address in wanted:
                continue
            wanted.add(address)
            stack.extend(self.resources[address].deps)
            stack.extend(self.resources[address].after)
        return [a for a in self.resources if a in wanted]


def build_graph(
    resolved: ResolvedSpec, steps: Mapping[str, Step], files: FileDigests, repo_root: Path
) -> Graph:
    """Declare, order and digest every resource; raises SpecError for a malformed graph."""
    from llmspec.engine.render import template_digest

    spec = resolved.spec
    spec_dir = Path(resolved.path).resolve().parent
    ctx = DeclareContext(spec, resolved.env, spec_dir, repo_root)
    declared: dict[str, tuple[ResourceDecl, Step]] = {}
    for step in steps.values():
        for decl in step.declare(ctx):
            _check_address(decl)
            if decl.address in declared:
                raise SpecError(
                    [
                        error(
                            "LS470",
                            f"two resources are both `{decl.address}`",
                            hint="rename one of them (e.g. the table or target)",
                        )
                    ]
                )
            declared[decl.address] = (decl, step)
    ordered = _topological(declared)
    resources: dict[str, Resource] = {}
    for address in ordered:
        decl, step = declared[address]
        config = dict(decl.config)
        if step.templates:
            config["renderer"] = {name: template_digest(name) for name in step.templates}
        file_digests = {rel: files.digest(spec_dir / rel) for rel in decl.files}
        dep_digests = {dep: resources[dep].inputs_digest for dep in decl.deps}
        if not step.reusable:
            # where and under what name a non-shared resource is made is part of what it
            # makes (a manifest's namespace, the alias a promotion moves)
            config["settings"] = dict(decl.settings)
        inputs = digest_of(
            {"kind": decl.kind, "config": config, "files": file_digests, "deps": dep_digests}
        )
        resources[address] = Resource(
            decl.kind,
            decl.name,
            config,
            decl.files,
            decl.deps,
            decl.after,
            decl.settings,
            decl.estimate,
            inputs,
            file_digests,
            dep_digests,
        )
    return Graph(spec.metadata.name, resolved.env or DEFAULT_ENV, resources)


def _check_address(decl: ResourceDecl) -> None:
    """A declared kind and name that cannot form an address (a plug-in's empty kind, a name
    with blanks) stop the plan with a diagnostic, not a traceback."""
    try:
        Address(decl.kind, decl.name)
    except ValueError as exc:
        raise SpecError(
            [
                error(
                    "LS471",
                    f"a `{decl.kind}` step declared `{decl.kind}.{decl.name}`: {exc}",
                    hint="a step kind names its resources in declare(); "
                    "if it is a plug-in's, report it to its authors",
                )
            ]
        ) from None


def _topological(declared: Mapping[str, tuple[ResourceDecl, Step]]) -> list[str]:
    """Dependencies first; otherwise declaration order (stable plans)."""
    for address, (decl, _) in declared.items():
        for dep in (*decl.deps, *decl.after):
            if dep not in declared:
                raise SpecError(
                    [error("LS471", f"`{address}` needs `{dep}`, which the spec does not declare")]
                )
    order: list[str] = []
    placed: set[str] = set()
    visiting: set[str] = set()

    def visit(address: str) -> None:
        if address in placed:
            return
        if address in visiting:
            raise SpecError(
                [error("LS471", f"resources depend on each other in a cycle through `{address}`")]
            )
        visiting.add(address)
        decl = declared[address][0]
        for dep in (*decl.deps, *decl.after):
            visit(dep)
        visiting.discard(address)
        placed.add(address)
        order.append(address)

    for address in declared:
        visit(address)
    return order
