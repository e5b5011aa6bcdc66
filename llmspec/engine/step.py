"""The one interface every step kind implements, and what the engine hands it.

A step kind *declares* resources from a spec (the plan inputs: a config slice, the files read,
the dependencies), *runs* one resource (returning its outputs), and may *render* artifacts and
*destroy* what it made. Declaring and rendering must stay light (no heavy imports): `plan` and
`render` call them; only `run` may import torch, lancedb or mlflow.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from llmspec.core.diagnostics import Diagnostic
from llmspec.core.layout import Layout
from llmspec.plans.address import Address

DEFAULT_ENV = "default"  # the environment name of a spec resolved without `--env`

if TYPE_CHECKING:
    from llmspec.spec import Spec
    from llmspec.state.model import ResourceState


@dataclass(frozen=True)
class ResourceDecl:
    """A resource as a step kind declares it.

    ``config`` is the canonical slice of the spec that determines the resource's content; it
    leaves out where the result is stored and what an environment calls it (those go in
    ``settings``), so equal content in two environments has equal digests.
    """

    kind: str
    name: str
    config: Mapping[str, Any]
    files: tuple[str, ...] = ()  # paths read, relative to the spec's folder
    deps: tuple[str, ...] = ()  # addresses whose outputs this resource uses (digested)
    after: tuple[str, ...] = ()  # addresses that must run first, outputs not used (not digested)
    settings: Mapping[str, Any] = field(default_factory=dict)  # not digested: uri, alias…
    estimate: str | None = None  # the work it implies, when it can be told

    @property
    def ref(self) -> Address:
        """The typed address; ValueError when the kind or name cannot form one."""
        return Address(self.kind, self.name)

    @property
    def address(self) -> str:
        """The address as state and plans key it: ``kind.name``."""
        return str(self.ref)


@dataclass(frozen=True)
class Resource(ResourceDecl):
    """A declared resource with its digests: the node of the resource graph."""

    inputs_digest: str = ""
    file_digests: Mapping[str, str] = field(default_factory=dict)
    dep_digests: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class DeclareContext:
    """What a step kind may read while declaring resources."""

    spec: Spec
    env: str | None
    spec_dir: Path
    repo_root: Path

    def expand(self, patterns: Iterable[str], exclude: Iterable[str] = ()) -> tuple[str, ...]:
        """Files matching glob patterns relative to the spec's folder, sorted, minus excludes."""
        import glob

        excluded: set[str] = set()
        for pattern in exclude:
            excluded.update(glob.glob(pattern, root_dir=self.spec_dir, recursive=True))
        found: set[str] = set()
        for pattern in patterns:
            for match in glob.glob(pattern, root_dir=self.spec_dir, recursive=True):
                if match not in excluded and (self.spec_dir / match).is_file():
                    found.add(match)
        return tuple(sorted(found))


@dataclass
class RunContext:
    """What a step kind gets while running one resource."""

    spec: Spec
    app: str
    env: str
    spec_dir: Path
    build_dir: Path  # build/<app>/<env>/, for rendered artifacts
    artifact_dir: Path  # content-addressed folder for this resource's outputs
    inputs: Mapping[str, ResourceState]  # the recorded state of each dependency
    rendered: Mapping[str, str] = field(default_factory=dict)  # artifacts written: path -> digest
    repo_root: Path = Path(".")  # paths in settings (a local store URI) are relative to it
    action: str = "create"  # what the plan decided: create, update, replace, reuse
    previous: ResourceState | None = None  # this resource's last record in this environment
    approved_by: tuple[str, ...] = ()  # who approved the plan being applied, where it needed it
    build_store: str | None = None  # `s3://…` when the build store is shared in a bucket
    log: Callable[[str], None] = lambda line: None  # the caller's hook says where lines go
    progress: Callable[[int, int], None] = lambda done, total: None

    @property
    def cache_dir(self) -> Path:
        """Built and converted models; LLMSPEC_CACHE shares one cache between repositories."""
        return Layout(self.repo_root).cache

    def relative(self, path: Path) -> str:
        """A path as outputs record it: relative to the repository root when inside it, so
        state does not name the machine's folders."""
        try:
            return path.resolve().relative_to(self.repo_root.resolve()).as_posix()
        except ValueError:
            return str(path)


@dataclass(frozen=True)
class Drift:
    """One out-of-band change plan found: ``message`` says it ("alias @champion points at
    version 7; state says 5"), ``action`` what apply does about it: ``update`` (run the step
    again, which puts things back) or ``replace`` (rebuild what is gone)."""

    what: str
    message: str
    action: str = "update"


class StepFailed(Exception):
    """A step could not do its work; carries the diagnostics to show."""

    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        self.diagnostics = diagnostics
        super().__init__("; ".join(d.message for d in diagnostics))


class Step:
    """Base class for step kinds: override ``declare`` and ``run``; the rest is optional."""

    kind: ClassVar[str] = ""
    reusable: ClassVar[bool] = False  # outputs may be shared across environments by digest
    replace_on: ClassVar[tuple[str, ...]] = ()  # config keys whose change means a rebuild
    templates: ClassVar[tuple[str, ...]] = ()  # artifact templates (their text is digested)

    def declare(self, ctx: DeclareContext) -> Iterable[ResourceDecl]:
        return ()

    def render(self, resource: Resource, spec: Spec) -> dict[str, str]:
        """Artifacts for ``build/<app>/<env>/``: relative path -> text. Deterministic."""
        return {}

    def run(self, resource: Resource, ctx: RunContext) -> dict[str, Any]:
        from llmspec.core.diagnostics import error

        raise StepFailed(
            [
                error(
                    "LS601",
                    f"no executor for `{resource.kind}` resources is installed",
                    hint="this kind of step is not available in this version of llmspec; "
                    "a plug-in can provide it through the `llmspec.steps` entry point",
                )
            ]
        )

    def reuse(
        self, resource: Resource, built: Mapping[str, Any], ctx: RunContext
    ) -> dict[str, Any]:
        """Take outputs another environment built with the same inputs digest. By default the
        outputs are shared by pointer; a kind whose outputs live per environment (a table in
        the env's own store, a version in the env's registry) copies them here."""
        return dict(built)

    def destroy(self, resource: ResourceState, ctx: RunContext) -> bool:
        """Remove what ``run`` made; False when this kind leaves its outputs in place."""
        return False

    def refresh(self, resource: ResourceState, ctx: RunContext) -> list[Drift]:
        """What changed outside llmspec since apply recorded ``resource`` (an alias moved in the
        registry's UI, a version deleted, a table dropped), asked of the system that holds it
        with a bounded number of calls. None by default: a kind without outside state."""
        return []
