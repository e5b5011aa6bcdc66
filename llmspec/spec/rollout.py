"""`serving.rollout`, `serving.monitoring.judges` and `serving.notifications`: how a new
version reaches traffic, what scores production traces, and who hears about it."""

import itertools
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from llmspec.core.secrets import SecretRef
from llmspec.spec.base import Fraction, PositiveInt, SpecModel, invalid

Duration = Annotated[str, Field(pattern=r"^[0-9]+[smhd]$", examples=["10m", "1h"])]
Percent = Annotated[int, Field(ge=1, le=100)]
# online figures a guard can read; any other name is one of `serving.monitoring.judges`
ONLINE_METRICS = ("error_rate", "latency_ms", "feedback_positive_rate")
LOWER_IS_BETTER = frozenset({"error_rate", "latency_ms"})


def _default_steps() -> list[int]:
    return [5, 25, 50, 100]


class Guard(SpecModel):
    """A comparison of challenger and champion on one online figure, decided by a sequential
    test: the rollout rolls back once the challenger is worse by more than `margin` with the
    rollout's confidence, and completes only once it is shown no worse than that."""

    metric: str = Field(
        pattern=r"^[A-Za-z_][\w@.-]*$",
        description="`error_rate`, `latency_ms`, `feedback_positive_rate`, or the name of an "
        "online judge (`serving.monitoring.judges`).",
        examples=["error_rate", "helpfulness"],
    )
    margin: float = Field(
        0.0,
        ge=0.0,
        description="How much worse than the champion the challenger may be, in the figure's "
        "units (0: it must be shown better).",
    )


class Rollout(SpecModel):
    """A new version that passed its gates runs beside the champion and takes a growing share
    of traffic, steered by a sequential test on online figures; the alias moves at the end."""

    strategy: Literal["canary", "shadow", "blue-green"] = Field(
        "canary",
        description="`canary`: the challenger answers a growing share of users; `shadow`: it "
        "answers a copy of each request, unseen; `blue-green`: it takes all traffic at once, "
        "the champion kept warm for an instant rollback.",
    )
    steps: list[Percent] = Field(
        default_factory=_default_steps,
        description="`canary`: the challenger's share of traffic at each step, in percent, "
        "ending at 100 (the promotion).",
    )
    hold: Duration = Field("10m", description="Least time at each step before it advances.")
    min_requests: PositiveInt = Field(
        30, description="Least requests each side answered at a step before the test decides."
    )
    alpha: float = Field(
        0.05,
        gt=0.0,
        lt=0.5,
        description="Chance of a wrong decision (rolling back a challenger that is not worse, "
        "or completing one that is) over every look of the rollout, all guards together.",
    )
    sticky: Literal["user", "session", "none"] = Field(
        "user",
        description="What keeps a caller on one side: the request's `user` (OpenAI's field), "
        "its `X-Session-Id` header, or nothing (each request drawn anew).",
    )
    guards: list[Guard] = Field(
        min_length=1, description="The figures the decision reads; every one must hold."
    )

    @field_validator("steps")
    @classmethod
    def _increasing(cls, steps: list[int]) -> list[int]:
        if not steps or steps[-1] != 100:
            raise invalid("the last step must be 100 (the challenger takes all traffic)")
        if any(b <= a for a, b in itertools.pairwise(steps)):
            raise invalid("steps must increase")
        return steps

    @model_validator(mode="after")
    def _one_metric_once(self) -> "Rollout":
        names = [g.metric for g in self.guards]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise invalid(f"guard `{twice[0]}` is listed twice", "guards")
        return self


class OnlineJudge(SpecModel):
    """One of the evaluation's metrics (a judge, a plug-in, or a built-in that needs no
    reference) run on a sample of served traces; each score is an MLflow assessment."""

    metric: str = Field(
        pattern=r"^[A-Za-z_][\w@.-]*$",
        description="A metric of `evaluation.metrics`.",
        examples=["helpfulness"],
    )
    sample_rate: Fraction = Field(1.0, description="Share of traces scored (by trace id).")
    filter: str | None = Field(
        None,
        description="An MLflow trace search filter the scored traces must also match.",
        examples=["tags.`llmspec.arm` = 'challenger'"],
    )


Event = Literal["rollout", "alert"]


def _both_events() -> list[Event]:
    return ["rollout", "alert"]


class Webhook(SpecModel):
    url: str | SecretRef = Field(
        description="Where events are posted (Slack-compatible JSON); usually a secret.",
        examples=["${secret:SLACK_WEBHOOK_URL}"],
    )
    events: list[Event] = Field(
        default_factory=_both_events,
        description="Which events: rollout steps and decisions, firing monitor alerts.",
    )
    timeout_s: float = Field(5.0, gt=0, le=60, description="Seconds per attempt.")
    retries: int = Field(3, ge=0, le=10, description="Attempts after the first.")


class Notifications(SpecModel):
    webhooks: list[Webhook] = Field(default_factory=list, description="Webhooks to post to.")
