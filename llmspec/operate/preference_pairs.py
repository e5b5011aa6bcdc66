"""Preference pairs from served traces: `llmspec feedback export --format preference`.

A supervised fine-tune learns only what a good answer looks like; DPO, ORPO and KTO also learn
what to avoid, from two answers to one prompt with the better one marked. Production already
holds such comparisons: people correct answers and rate them, and during a rollout online
judges score the champion's and the challenger's answers. This module turns those into
pairs, with no I/O: the traces come in, the records (`runtime/preference_data.py` reads
them) go out. Three rules make a pair:

- **correction**: a trace's last `expected_response` beats the trace's own answer;
- **rating**: to the same question (whitespace collapsed, case kept), an answer every
  `user_rating` of which is up beats an answer someone rated down;
- **judge**: on one request a shadow rollout sent to both sides, the answer an online judge
  of `serving.monitoring.judges` scored higher beats the other (no pair on a tie, on a
  missing score, or when two judges disagree).

The app server tags a rollout's traces with `llmspec.rollout` (the rollout's id) and
`llmspec.arm` (`champion` or `challenger`) and writes no id of the request itself: the two
traces of one shadowed request are the two arms of one rollout with the same inputs, started
at most SHADOW_WINDOW_MS apart; each challenger trace takes the nearest such champion trace.

Pairs are ordered by the time of their later trace and deduplicated on (prompt, chosen,
rejected) with the prompt's whitespace collapsed and the answers stripped: the first is kept.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

# The shadow's copy is queued to the server's pool together with the caller's own answer: the
# two start within one answer's time of each other; a minute covers a slow one. Two callers
# asking the very same thing that close would still make a fair pair: one prompt, both judged.
SHADOW_WINDOW_MS = 60_000
REASONS = ("correction", "rating", "judge")


@dataclass(frozen=True)
class Served:
    """What pairing reads of one trace."""

    trace_id: str
    at_ms: int
    question: str
    inputs: str  # the request's inputs as canonical JSON: a shadow's copy has the same
    answer: str
    correction: str | None  # the latest `expected_response`
    ratings: tuple[bool, ...]  # the `user_rating`s that are up (True) or down (False)
    scores: Mapping[str, float]  # online judge -> its latest score
    rollout: str | None
    arm: str | None

    @property
    def up_rated(self) -> bool:
        return bool(self.ratings) and all(self.ratings)

    @property
    def down_rated(self) -> bool:
        return False in self.ratings


@dataclass(frozen=True)
class Pair:
    """One preference: ``chosen`` over ``rejected`` as answers to ``prompt``."""

    prompt: str
    chosen: Served
    rejected: Served
    chosen_text: str
    reason: str  # correction | rating | judge

    @property
    def at_ms(self) -> int:
        return max(self.chosen.at_ms, self.rejected.at_ms)

    @property
    def key(self) -> tuple[str, str, str]:
        return (normalized(self.prompt), self.chosen_text.strip(), self.rejected.answer.strip())


@dataclass(frozen=True)
class Pairs:
    """The records, as written; how many per reason; how many traces are in none of them."""

    records: list[dict[str, Any]]
    reasons: dict[str, int]
    unpaired: int


def preference_pairs(
    traces: Iterable[Any],
    judges: Sequence[str],
    fields: Mapping[str, str] | None = None,
    method: str = "dpo",
) -> Pairs:
    """The preference records the traces give, by the three rules of the module's docstring;
    ``judges`` are the online judges' metric names, in the spec's order. Every record passes
    the check the preference stage applies before it trains."""
    from llmspec.runtime.preference_data import check_record

    traces = list(traces)
    found = [s for s in (served(t, judges) for t in traces) if s is not None]
    found.sort(key=lambda s: (s.at_ms, s.trace_id))
    candidates = [*correction_pairs(found), *rating_pairs(found), *judge_pairs(found, judges)]
    kept = deduplicated(sorted(candidates, key=lambda p: p.at_ms))  # stable: rule order on ties
    records = []
    for pair in kept:
        record = preference_record(pair, fields or {})
        assert check_record(record, fields, method) is None  # what the preference stage reads
        records.append(record)
    reasons = {r: n for r in REASONS if (n := sum(1 for p in kept if p.reason == r))}
    paired = {p.chosen.trace_id for p in kept} | {p.rejected.trace_id for p in kept}
    return Pairs(records, reasons, len(traces) - len(paired))


def served(trace: Any, judges: Sequence[str]) -> Served | None:
    """The trace as pairing reads it; None without a question or an answer."""
    root = next((s for s in trace.data.spans if s.parent_id is None), None)
    inputs = (root.inputs if root is not None else None) or {}
    outputs = (root.outputs if root is not None else None) or {}
    # the server's inputs are the prompt's, the question first (runtime/pyfunc.py)
    question = str(next(iter(inputs.values()), "")) if isinstance(inputs, Mapping) else ""
    answer = outputs.get("answer") if isinstance(outputs, Mapping) else None
    if not question.strip() or not isinstance(answer, str) or not answer.strip():
        return None
    info = trace.info
    valid = [a for a in info.assessments or [] if getattr(a, "valid", None) is not False]
    valid.sort(key=lambda a: a.create_time_ms or 0)
    corrections = [
        str(a.value)
        for a in valid
        if a.name == "expected_response" and isinstance(a.value, str) and a.value.strip()
    ]
    ratings = tuple(a.value for a in valid if a.name == "user_rating" and type(a.value) is bool)
    scores: dict[str, float] = {}
    for a in valid:  # oldest first: the latest of each judge wins
        # a pass/fail judge's False is 0, True 1; a judge that errored gave no score
        if a.name in judges and isinstance(a.value, int | float) and not getattr(a, "error", None):
            scores[a.name] = float(a.value)
    tags = info.tags or {}
    return Served(
        trace_id=str(info.trace_id),
        at_ms=int(info.timestamp_ms or 0),
        question=question.strip(),
        inputs=json.dumps(inputs, sort_keys=True, default=str),
        answer=answer,
        correction=corrections[-1] if corrections else None,
        ratings=ratings,
        scores=scores,
        rollout=tags.get("llmspec.rollout"),
        arm=tags.get("llmspec.arm"),
    )


def correction_pairs(found: Sequence[Served]) -> list[Pair]:
    """Rule 1: the correction over the answer it corrects (both sides the same trace)."""
    return [
        Pair(s.question, s, s, s.correction, "correction")
        for s in found
        if s.correction is not None and s.correction.strip() != s.answer.strip()
    ]


def rating_pairs(found: Sequence[Served]) -> list[Pair]:
    """Rule 2: to the same question, every up-rated answer over every down-rated one."""
    by_question: dict[str, list[Served]] = {}
    for s in found:
        by_question.setdefault(normalized(s.question), []).append(s)
    pairs = []
    for group in by_question.values():
        for up in (s for s in group if s.up_rated):
            for down in (s for s in group if s.down_rated):
                if up.answer.strip() != down.answer.strip():
                    pairs.append(Pair(up.question, up, down, up.answer, "rating"))
    return pairs


def judge_pairs(found: Sequence[Served], judges: Sequence[str]) -> list[Pair]:
    """Rule 3: on one shadowed request, the answer the online judges scored higher."""
    pairs = []
    for challenger, champion in shadowed(found):
        better = judged_better(challenger, champion, judges)
        if better is not None and challenger.answer.strip() != champion.answer.strip():
            worse = champion if better is challenger else challenger
            pairs.append(Pair(better.question, better, worse, better.answer, "judge"))
    return pairs


def shadowed(found: Sequence[Served]) -> list[tuple[Served, Served]]:
    """(challenger, champion) traces of the same request: one rollout, the same inputs, the
    nearest in time within SHADOW_WINDOW_MS, each trace in one pair at most."""
    champions: dict[tuple[str, str], list[Served]] = {}
    for s in found:
        if s.rollout and s.arm == "champion":
            champions.setdefault((s.rollout, s.inputs), []).append(s)
    out = []
    for s in found:
        if not s.rollout or s.arm != "challenger":
            continue
        near = [
            c
            for c in champions.get((s.rollout, s.inputs), [])
            if abs(c.at_ms - s.at_ms) <= SHADOW_WINDOW_MS
        ]
        if near:
            match = min(near, key=lambda c: abs(c.at_ms - s.at_ms))
            champions[(s.rollout, s.inputs)].remove(match)
            out.append((s, match))
    return out


def judged_better(a: Served, b: Served, judges: Sequence[str]) -> Served | None:
    """The one the judges scoring both put higher: every judge whose scores differ must agree;
    None on ties, on no judge scoring both, and on disagreement."""
    votes = {
        a.scores[j] > b.scores[j]
        for j in judges
        if j in a.scores and j in b.scores and a.scores[j] != b.scores[j]
    }
    if len(votes) != 1:
        return None
    return a if votes.pop() else b


def deduplicated(pairs: Iterable[Pair]) -> list[Pair]:
    """The first of each (prompt, chosen, rejected)."""
    seen: set[tuple[str, str, str]] = set()
    out = []
    for pair in pairs:
        if pair.key not in seen:
            seen.add(pair.key)
            out.append(pair)
    return out


def preference_record(pair: Pair, fields: Mapping[str, str]) -> dict[str, Any]:
    """The pair as a record: the spec's field names for the prompt and the answers (else
    TRL's), the two traces it came from and why."""
    return {
        fields.get("prompt", "prompt"): pair.prompt,
        fields.get("chosen", "chosen"): pair.chosen_text,
        fields.get("rejected", "rejected"): pair.rejected.answer,
        "trace_ids": {"chosen": pair.chosen.trace_id, "rejected": pair.rejected.trace_id},
        "reason": pair.reason,
    }


def normalized(question: str) -> str:
    """A question as pairing compares it: whitespace collapsed, case kept."""
    return " ".join(question.split())
