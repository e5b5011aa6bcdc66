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
from llmspec.integrations.mlflow import quiet_mlflow
from llmspec.kinds.evaluate.gates import GateResult, Scores, check, table
from llmspec.kinds.evaluate.run import SCORES


def run_promote(resource: Resource, ctx: RunContext) -> dict[str, Any]:
    quiet_mlflow()
    from mlflow import MlflowClient

    evaluated = ctx.inputs.get(f"eval.{ctx.app}")
    source = evaluated or ctx.inputs[f"package.{ctx.app}"]
    outputs = source.outputs
    name, version = str(outputs["registered_name"]), str(outputs["version"])
    alias = str(resource.settings["alias"])
    client = MlflowClient(
        tracking_uri=str(outputs["tracking_uri"]), registry_uri=str(outputs["tracking_uri"])
    )
    previous = _alias_version(client, name, alias)
    results: list[GateResult] = []
    gates = list(resource.config["gates"])
    if gates:
        assert evaluated is not None  # gates imply an evaluation (checked at validate time)
        scores = _scores(ctx.repo_root / str(evaluated.outputs["scores_file"]))
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
        client.set_model_version_tag(name, version, "llmspec.rejected", "true")
        client.set_model_version_tag(name, version, "llmspec.rejected_reasons", reasons[:5000])
        raise StepFailed(
            [
                error(
                    "LS613",
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
    client.set_registered_model_alias(name, alias, version)
    client.set_model_version_tag(name, version, f"llmspec.kinds.promote.promoted.{alias}", ctx.env)
    if ctx.approved_by:  # the registry keeps who let this version in, beside the journal
        client.set_model_version_tag(
            name, version, f"llmspec.approved_by.{alias}", ", ".join(ctx.approved_by)
        )
    ctx.log(f"    {name}@{alias}: version {previous or '—'} → {version}")
    return {
        "registered_name": name,
        "alias": alias,
        "version": version,
        "previous": previous,
        "tracking_uri": outputs["tracking_uri"],
        "gates": [r.__dict__ for r in results],
    }


def _alias_version(client: Any, name: str, alias: str) -> str | None:
    from mlflow.exceptions import MlflowException

    try:
        return str(client.get_model_version_by_alias(name, alias).version)
    except MlflowException:
        return None


def _scores(path: Path) -> Scores:
    data = json.loads(path.read_text(encoding="utf-8"))
    return Scores(data["values"], data.get("slices", {}), data.get("samples", {}))


def _champion_scores(client: Any, name: str, alias: str, ours: str) -> Scores | None:
    """The per-example scores of the version ``alias`` points at (None when it points nowhere,
    or at this very version: a version does not regress against itself)."""
    current = _alias_version(client, name, alias)
    if current is None or current == ours:
        return None
    run_id = client.get_model_version(name, current).tags.get("llmspec.eval_run_id")
    if not run_id:
        return None
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        local = client.download_artifacts(run_id, SCORES, tmp)
        return _scores(Path(local))
