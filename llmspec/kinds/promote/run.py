"""`apply` of a `promote.<app>@<alias>` resource: hold every gate, then move the alias.

The gate table is printed whatever the outcome. When a gate fails, the alias stays where it
was, the version is tagged rejected with the reasons, and the step fails (apply exits 1).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from llmspec.core.diagnostics import error
from llmspec.engine.step import Resource, RunContext, StepFailed
from llmspec.integrations.mlflow import Tag, quiet_mlflow
from llmspec.kinds.evaluate.gates import GateResult, Scores, check, table
from llmspec.kinds.evaluate.outputs import EvalOutputs
from llmspec.kinds.evaluate.run import SCORES
from llmspec.kinds.package.outputs import PackageOutputs
from llmspec.kinds.promote.outputs import PromoteOutputs
from llmspec.plans.address import Address


def run_promote(resource: Resource, ctx: RunContext) -> dict[str, Any]:
    quiet_mlflow()
    from mlflow import MlflowClient

    eval_state = ctx.inputs.get(str(Address.eval(ctx.app)))
    evaluated = EvalOutputs.from_state(eval_state) if eval_state is not None else None
    source: EvalOutputs | PackageOutputs = evaluated or PackageOutputs.from_state(
        ctx.inputs[str(Address.package(ctx.app))]
    )
    name, version, tracking = source.registered_name, source.version, source.tracking_uri
    alias = str(resource.settings["alias"])
    client = MlflowClient(tracking_uri=tracking, registry_uri=tracking)
    previous = _alias_version(client, name, alias)
    results: list[GateResult] = []
    gates = list(resource.config["gates"])
    if gates:
        assert evaluated is not None  # gates imply an evaluation (checked at validate time)
        scores = _eval_scores(client, evaluated, ctx.repo_root)
        bootstrap = ctx.spec.evaluation.bootstrap if ctx.spec.evaluation else None
        samples, seed = (bootstrap.samples, bootstrap.seed) if bootstrap else (1000, 0)
        for gate in gates:
            champion = None
            if gate.get("compare"):
                champion = _champion_scores(client, name, gate["compare"], version)
            results.append(check(gate, scores, champion, samples=samples, seed=seed))
        ctx.log("    " + table(results).replace("\n", "\n    "))
    failed = [r for r in results if not r.passed]
    if failed:
        reasons = "; ".join(f"{r.gate}: {r.note or 'below threshold'}" for r in failed)
        client.set_model_version_tag(name, version, Tag.REJECTED, "true")
        client.set_model_version_tag(name, version, Tag.REJECTED_REASONS, reasons[:5000])
        raise StepFailed(
            [
                error(
                    "LS720",
                    f"{len(failed)} of {len(results)} gate(s) failed: version {version} of "
                    f"`{name}` is not promoted to `{alias}`"
                    + (f" (it stays on version {previous})" if previous else ""),
                    hint="; ".join(
                        f"{r.gate} → {'—' if r.value is None else f'{r.value:.4g}'} "
                        f"(needs {r.threshold})"
                        for r in failed
                    ),
                )
            ]
        )
    rollout = ctx.spec.serving.rollout
    if rollout is not None and previous is not None and previous != version:
        from llmspec.kinds.promote.rollouts import start

        started = start(client, name, alias, previous, version, rollout.model_dump(mode="json"))
        ctx.log(
            f"    {name}@{alias}: version {version} rolls out beside {previous} "
            f"({rollout.strategy}, {started.weight}% of traffic); "
            f"`llmspec rollout advance` moves it on"
        )
        return PromoteOutputs(
            registered_name=name,
            alias=alias,
            version=previous,  # the alias stays on the champion until the rollout completes
            previous=None,
            tracking_uri=tracking,
            gates=tuple(r.__dict__ for r in results),
            rollout=started.to_json(),
        ).to_outputs()
    client.set_registered_model_alias(name, alias, version)
    client.set_model_version_tag(name, version, Tag.PROMOTED.format(alias), ctx.env)
    from llmspec.kinds.package.prompts import follow_promotion

    moved = follow_promotion(tracking, name, version, alias)
    if moved:
        ctx.log(f"    {moved}")
    if ctx.approved_by:  # the registry keeps who let this version in, beside the journal
        client.set_model_version_tag(
            name, version, Tag.APPROVED_BY.format(alias), ", ".join(ctx.approved_by)
        )
    ctx.log(f"    {name}@{alias}: version {previous or '—'} → {version}")
    return PromoteOutputs(
        registered_name=name,
        alias=alias,
        version=version,
        previous=previous,
        tracking_uri=tracking,
        gates=tuple(r.__dict__ for r in results),
    ).to_outputs()


def _alias_version(client: Any, name: str, alias: str) -> str | None:
    from mlflow.exceptions import MlflowException

    try:
        return str(client.get_model_version_by_alias(name, alias).version)
    except MlflowException:
        return None


def _eval_scores(client: Any, evaluated: EvalOutputs, repo_root: Path) -> Scores:
    """The evaluation's per-example scores: its file on this machine, else the copy its MLflow
    run keeps (an evaluation reused from another CI runner)."""
    local = repo_root / evaluated.scores_file
    if local.is_file():
        return _scores(local)
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        return _scores(Path(client.download_artifacts(evaluated.run_id, SCORES, tmp)))


def _scores(path: Path) -> Scores:
    data = json.loads(path.read_text(encoding="utf-8"))
    return Scores(data["values"], data.get("slices", {}), data.get("samples", {}))


def _champion_scores(client: Any, name: str, alias: str, ours: str) -> Scores | None:
    """The per-example scores of the version ``alias`` points at (None when it points nowhere,
    or at this very version: a version does not regress against itself)."""
    current = _alias_version(client, name, alias)
    if current is None or current == ours:
        return None
    run_id = client.get_model_version(name, current).tags.get(Tag.EVAL_RUN_ID)
    if not run_id:
        return None
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        local = client.download_artifacts(run_id, SCORES, tmp)
        return _scores(Path(local))
