"""Governance policies the selected environment must satisfy: the spec's own `governance`, and
the repository's `llmspec-policy.yaml` when there is one."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from llmspec.checks.context import CheckContext
from llmspec.core.diagnostics import Diagnostic, Related, SpecError, error

SHA = re.compile(r"^[0-9a-f]{7,40}$")
POLICY_FILE = "llmspec-policy.yaml"
Where = Callable[[str], list[Related]]


def check_governance(ctx: CheckContext) -> Iterator[Diagnostic]:
    yield from _rules(
        ctx.spec.governance,
        ctx,
        lambda field: ctx.related("the policy is set here", "governance", field),
    )
    loaded = ctx.cached(
        ("repository-policy", str(ctx.repo_root)), lambda: load_policy(ctx.repo_root)
    )
    if loaded is None:
        return
    if isinstance(loaded, SpecError):
        yield from loaded.diagnostics
        return
    policy, doc = loaded
    env = ctx.env or ""

    def where(field: str) -> list[Related]:
        span = doc.values.get(("environments", env, field)) or doc.values.get(("policy", field))
        return [Related(span, f"the repository policy ({POLICY_FILE}) sets this")] if span else []

    chosen = policy.for_environment(ctx.env)
    yield from _rules(chosen, ctx, where)
    yield from _external_paths(chosen, ctx, where)


def _external_paths(policy: Any, ctx: CheckContext, where: Where) -> Iterator[Diagnostic]:
    """A repository policy that lists `allowed_external_paths` bounds the spec's own list: a
    spec may open only folders inside the policy's (a spec's list alone widens, the policy's
    narrows)."""
    if "allowed_external_paths" not in policy.model_fields_set:
        return
    ceiling = [os.path.realpath(p) for p in policy.allowed_external_paths]
    for i, folder in enumerate(ctx.spec.governance.allowed_external_paths):
        real = os.path.realpath(folder)
        if not any(real == c or real.startswith(c.rstrip(os.sep) + os.sep) for c in ceiling):
            yield error(
                "LS440",
                f"`{folder}` is not among the external folders the repository policy allows"
                + (f" ({', '.join(policy.allowed_external_paths)})" if ceiling else " (none)"),
                ctx.span("governance", "allowed_external_paths", i),
                hint="keep the data in the repository, or have the policy list the folder",
                related=where("allowed_external_paths"),
            )


def load_policy(repo_root: Path) -> Any:
    """(policy, document) from the repository's policy file; None without one; a SpecError
    (positioned diagnostics) when it is not a valid policy."""
    path = repo_root / POLICY_FILE
    if not path.is_file():
        return None
    from pydantic import ValidationError

    from llmspec.source.loader import load_file
    from llmspec.spec.errors import diagnostics_from
    from llmspec.spec.governance import RepositoryPolicy

    try:
        doc = load_file(path, os.path.relpath(path))
        return RepositoryPolicy.model_validate(doc.data), doc
    except SpecError as exc:
        return exc
    except ValidationError as exc:
        return SpecError(diagnostics_from(exc, doc, RepositoryPolicy))


def _rules(policy: Any, ctx: CheckContext, where: Where) -> Iterator[Diagnostic]:
    spec = ctx.spec
    env = f"environment `{ctx.env}`" if ctx.env else "the base spec"
    if spec.model.source not in policy.allowed_sources:
        yield error(
            "LS440",
            f"{env} uses model source `{spec.model.source}`, which governance does not allow",
            ctx.span("model", "source"),
            hint="allowed: " + ", ".join(f"`{s}`" for s in policy.allowed_sources),
            related=where("allowed_sources"),
        )
    metrics = spec.evaluation.metrics if spec.evaluation is not None else []
    for i, metric in enumerate(metrics):
        judge = getattr(metric, "judge", None)
        if judge is not None and judge.model.source not in policy.allowed_sources:
            yield error(
                "LS440",
                f"the judge of `{metric.name}` uses model source `{judge.model.source}`, which "
                "governance does not allow (the eval questions and answers would go to it)",
                ctx.span("evaluation", "metrics", i, "judge", "model", "source"),
                hint="allowed: " + ", ".join(f"`{s}`" for s in policy.allowed_sources),
                related=where("allowed_sources"),
            )
    if (
        policy.require_pinned_revision
        and spec.model.source == "hf"
        and not SHA.match(spec.model.revision)
    ):
        yield error(
            "LS440",
            f"{env} requires a pinned model revision, but `model.revision` is "
            f"`{spec.model.revision}`",
            ctx.span("model", "revision") if ctx.has("model", "revision") else ctx.key("model"),
            hint="pin a commit sha, e.g. `revision: 3f2a9c1d…`",
            related=where("require_pinned_revision"),
        )
    if policy.require_gates and (spec.evaluation is None or not spec.evaluation.gates):
        yield error(
            "LS440",
            f"{env} requires evaluation gates before promotion, but none are defined",
            ctx.key("evaluation") if spec.evaluation else ctx.key("model"),
            hint="add `evaluation.gates`",
            related=where("require_gates"),
        )
    card = spec.metadata.card
    if (
        policy.max_cost_per_1k_tokens_usd is not None
        and card
        and card.cost
        and (card.cost.per_1k_tokens_usd > policy.max_cost_per_1k_tokens_usd)
    ):
        yield error(
            "LS440",
            f"the card's cost ({card.cost.per_1k_tokens_usd} USD per 1k tokens) "
            f"exceeds the policy's {policy.max_cost_per_1k_tokens_usd}",
            ctx.span("metadata", "card", "cost", "per_1k_tokens_usd"),
            related=where("max_cost_per_1k_tokens_usd"),
        )
    for field in policy.required_card_fields:
        if not ctx.has("metadata", "card", field):
            yield error(
                "LS440",
                f"governance requires `metadata.card.{field}`, which is not set",
                ctx.key("metadata", "card") if card else ctx.key("metadata"),
                related=where("required_card_fields"),
            )


def required_approvals(spec: Any, repo_root: Path, env: str | None) -> int:
    """Approvals apply needs: the larger of the spec's and the repository policy's."""
    needed = int(spec.governance.approvals)
    loaded = load_policy(repo_root)
    if loaded is not None and not isinstance(loaded, SpecError):
        needed = max(needed, loaded[0].for_environment(env).approvals)
    return needed
