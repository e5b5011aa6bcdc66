"""Where an app's state, artifacts, build outputs and caches live, and `plan` over them."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path

from llmspec.checks.context import repository_root
from llmspec.core.layout import Layout
from llmspec.core.secrets import SecretRef
from llmspec.core.tracking import TrackingChoice, choose_tracking
from llmspec.engine.build_store import ArtifactStore
from llmspec.engine.registry import registry
from llmspec.engine.step import DEFAULT_ENV, Drift, RunContext, Step
from llmspec.frontend import ResolvedSpec, display_path
from llmspec.plans.digest import FileDigests
from llmspec.plans.graph import Graph, build_graph
from llmspec.plans.planner import Plan, build_plan
from llmspec.state.backend import StateBackend
from llmspec.state.model import AppState


@dataclass
class Workspace:
    """One app in one environment, in its repository: its state, build store, file-digest
    cache, step kinds, and the repository's :class:`Layout`."""

    resolved: ResolvedSpec
    layout: Layout
    backend: StateBackend
    artifacts: ArtifactStore
    files: FileDigests
    steps: dict[str, Step]
    tracking: TrackingChoice

    @property
    def app(self) -> str:
        return self.resolved.spec.metadata.name

    @property
    def env(self) -> str:
        return self.resolved.env or DEFAULT_ENV

    @property
    def repo_root(self) -> Path:
        return self.layout.root

    @property
    def build_dir(self) -> Path:
        """``build/<app>/<env>/``, where the rendered artifacts are written."""
        return self.layout.build(self.app, self.env)

    def graph(self) -> Graph:
        graph = build_graph(self.resolved, self.steps, self.files, self.repo_root)
        self.files.save()
        return graph

    def plan(
        self, targets: Iterable[str] = (), graph: Graph | None = None, refresh: bool = True
    ) -> tuple[Graph, Plan]:
        """The plan against this environment's state (``graph``: one built already); with
        ``refresh``, what apply recorded is first checked against the systems holding it."""
        from llmspec.core.diagnostics import SpecError, did_you_mean, error

        graph = graph or self.graph()
        targets = tuple(targets)
        for target in targets:
            if target not in graph.resources:
                raise SpecError(
                    [
                        error(
                            "LS471",
                            f"`{target}` is not a resource of this spec",
                            hint=did_you_mean(target, list(graph.resources))
                            or "see `llmspec plan` for the addresses",
                        )
                    ]
                )
        state = self.backend.read(self.app, self.env)
        spec_file = display_path(Path(self.resolved.path))
        backend = repr(self.backend)  # SqlState's repr hides the password
        scope = graph.closure(targets) if targets else list(graph.resources)
        drifts = self.refresh(state, scope) if refresh else {}
        plan = build_plan(
            graph, state, self.steps, spec_file, self.artifacts, targets, backend, drifts
        )
        return graph, replace(plan, tracking=self.tracking.describe())

    def refresh(self, state: AppState, addresses: Iterable[str]) -> dict[str, list[Drift]]:
        """Each complete recorded resource asked of its kind's ``refresh`` (one or two calls to
        the registry or the table each); LS625 when a system cannot be asked."""
        from llmspec.core.diagnostics import SpecError, error

        found: dict[str, list[Drift]] = {}
        for address in addresses:
            recorded = state.resources.get(address)
            step = self.steps.get(recorded.kind) if recorded is not None else None
            if recorded is None or step is None or recorded.status != "complete":
                continue
            if type(step).refresh is Step.refresh:
                continue  # nothing outside llmspec to ask
            ctx = RunContext(
                spec=self.resolved.spec,
                app=self.app,
                env=self.env,
                spec_dir=self.resolved.path.resolve().parent,
                build_dir=self.build_dir,
                artifact_dir=self.artifacts.folder(self.app, recorded.kind, recorded.inputs_digest),
                inputs={},
                repo_root=self.repo_root,
            )
            try:
                drifts = step.refresh(recorded, ctx)
            except Exception as exc:  # the registry or the store did not answer
                raise SpecError(
                    [
                        error(
                            "LS625",
                            f"cannot refresh `{address}`: {type(exc).__name__}: {exc}",
                            hint="check the server is reachable, or plan with --refresh=false "
                            "to trust the recorded state",
                        )
                    ]
                ) from None
            if drifts:
                found[address] = drifts
        return found


def open_workspace(
    resolved: ResolvedSpec, state_url: str | None = None, tracking_uri: str | None = None
) -> Workspace:
    """The workspace of a resolved spec: paths are relative to its repository root. The spec
    the steps see names the tracking server :func:`choose_tracking` decided on."""
    layout = Layout(repository_root(Path(resolved.path).resolve().parent))
    config = resolved.spec.state
    backend = open_backend(layout.root, config.backend, config.path, state_url or config.url)
    spec = resolved.spec
    tracking = choose_tracking(spec.tracking.uri, spec.tracking.registry_uri, tracking_uri)
    chosen = spec.tracking.model_copy(
        update={"uri": tracking.uri, "registry_uri": tracking.registry_uri}
    )
    resolved = replace(resolved, spec=spec.model_copy(update={"tracking": chosen}))
    return Workspace(
        resolved,
        layout,
        backend,
        build_store(layout, config.artifacts),
        FileDigests(layout.file_digests),
        registry(),
        tracking,
    )


def build_store(layout: Layout, artifacts: str) -> ArtifactStore:
    """`state.artifacts`: a folder of the repository, or ``s3://bucket/prefix``."""
    if artifacts.startswith("s3://"):
        return ArtifactStore(layout.artifacts, artifacts)
    return ArtifactStore(layout.under(artifacts))


def open_backend(root: Path, kind: str, path: str, url: str | SecretRef | None) -> StateBackend:
    text_url = url if isinstance(url, str) else None
    if kind == "s3" or (text_url or "").startswith("s3://"):
        from llmspec.state.backend import StateUnavailable
        from llmspec.state.s3 import S3State

        try:
            resolved = url.resolve() if isinstance(url, SecretRef) else url
        except LookupError as exc:
            raise StateUnavailable(f"the state URL is a secret not set here: {exc}") from None
        if not resolved:
            raise StateUnavailable("state backend `s3` needs `state.url` (s3://bucket/prefix)")
        return S3State(resolved)
    if url is not None or kind == "sql":
        from llmspec.state.backend import StateUnavailable
        from llmspec.state.sql import SqlState

        if url is None:
            raise StateUnavailable("state backend `sql` needs `state.url` (or --state URL)")
        try:
            text = url.resolve() if isinstance(url, SecretRef) else url
        except LookupError as exc:
            raise StateUnavailable(f"the state URL is a secret not set here: {exc}") from None
        return SqlState(text)
    from llmspec.state.local import LocalState

    return LocalState(Layout(root).under(path))
