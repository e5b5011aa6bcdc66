"""Governance policies the selected environment must satisfy."""

from __future__ import annotations

import re
from collections.abc import Iterator

from llmspec.checks.context import CheckContext
from llmspec.diagnostics import Diagnostic, error

SHA = re.compile(r"^[0-9a-f]{7,40}$")


def check_governance(ctx: CheckContext) -> Iterator[Diagnostic]:
    spec = ctx.spec
    policy = spec.governance
    env = f"environment `{ctx.env}`" if ctx.env else "the base spec"
    if spec.model.source not in policy.allowed_sources:
        yield error(
            "LS440",
            f"{env} uses model source `{spec.model.source}`, which governance does not allow",
            ctx.span("model", "source"),
            hint="allowed: " + ", ".join(f"`{s}`" for s in policy.allowed_sources),
            related=ctx.related("the policy is set here", "governance", "allowed_sources"),
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
            related=ctx.related("the policy is set here", "governance", "require_pinned_revision"),
        )
    if policy.require_gates and (spec.evaluation is None or not spec.evaluation.gates):
        yield error(
            "LS440",
            f"{env} requires evaluation gates before promotion, but none are defined",
            ctx.key("evaluation") if spec.evaluation else ctx.key("model"),
            hint="add `evaluation.gates`",
            related=ctx.related("the policy is set here", "governance", "require_gates"),
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
            related=ctx.related(
                "the policy is set here", "governance", "max_cost_per_1k_tokens_usd"
            ),
        )
    for field in policy.required_card_fields:
        if not ctx.has("metadata", "card", field):
            yield error(
                "LS440",
                f"governance requires `metadata.card.{field}`, which is not set",
                ctx.key("metadata", "card") if card else ctx.key("metadata"),
                related=ctx.related("the policy is set here", "governance", "required_card_fields"),
            )
