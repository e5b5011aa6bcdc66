"""What `apply` of a preference stage (`finetune.<app>.preference`) does besides a fine-tune's
steps: start from the fine-tune's recorded result, check the pairs against the token budget
before anything trains, and measure the preference margin on held-out pairs before and after.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from llmspec.core.diagnostics import Span, error
from llmspec.engine.step import RunContext, StepFailed
from llmspec.kinds.finetune.outputs import FinetuneOutputs
from llmspec.kinds.index.outputs import IndexOutputs
from llmspec.plans.address import Address
from llmspec.runtime.contracts import JobConfig

MAX_REPORTED = 20


def starting_point(ctx: RunContext) -> tuple[Path, Path | None]:
    """(base model folder, adapter or None) of the fine-tune the stage starts from: for
    `full`, the tuned weights are the base and there is no adapter."""
    address = str(Address.finetune(ctx.app))
    state = ctx.inputs.get(address)
    if state is None:
        raise StepFailed([error("LS714", f"`{address}` has no recorded result to start from")])
    tuned = FinetuneOutputs.from_state(state)
    if tuned.adapter_dir is None:
        base, adapter = ctx.repo_root / tuned.model_dir, None
    else:
        base, adapter = ctx.repo_root / tuned.base_model, ctx.repo_root / tuned.adapter_dir
    for folder in (base, adapter):
        if folder is not None and not folder.is_dir():
            raise StepFailed(
                [
                    error(
                        "LS714",
                        f"the fine-tune's result `{ctx.relative(folder)}` is not on this machine",
                        hint=f"apply `{address}` here first (`llmspec apply SPEC -e {ctx.env} "
                        f"--replace {address}`): the preference stage trains from its folders",
                    )
                ]
            )
    return base, adapter


def examples(job: JobConfig, ctx: RunContext, work: Path) -> tuple[list[Any], list[Any]]:
    """The stage's (train, validation) examples through the app's prompt, saved for training;
    bad records stop it with their file:line."""
    from llmspec.runtime.preference import write_examples
    from llmspec.runtime.sft_data import DataError
    from llmspec.runtime.sft_prepare import prepare_preference

    index = None
    if job.retrieval is not None:
        index = IndexOutputs.from_state_or_none(
            ctx.inputs.get(str(Address.index(job.retrieval.table)))
        )
    try:
        train, validation = prepare_preference(
            job,
            ctx.spec_dir,
            index_uri=index.uri if index else None,
            index_version=index.version if index else None,
        )
    except DataError as exc:
        raise StepFailed(
            [
                error(
                    "LS701",
                    f"{exc.path}:{line}: {message}",
                    Span(str(ctx.spec_dir / exc.path), line, 1),
                )
                for line, message in exc.problems[:MAX_REPORTED]
            ]
        ) from exc
    write_examples(work / "examples.jsonl", train, validation)
    return train, validation


def check_budget(job: JobConfig, ctx: RunContext, base: Path, pairs: Sequence[Any]) -> None:
    """Every example's prompt and longer answer within `training.max_seq_length` tokens: a
    cut answer would be compared to the other on a part of it."""
    from transformers import AutoTokenizer

    from llmspec.runtime.preference_data import over_budget

    limit = int(job.training.max_seq_length)
    tokenizer = AutoTokenizer.from_pretrained(base)
    found = over_budget(pairs, tokenizer, limit)
    if not found:
        return
    raise StepFailed(
        [
            error(
                "LS702",
                f"{source}: {tokens} tokens, over `training.max_seq_length` ({limit})",
                Span(
                    str(ctx.spec_dir / source.rsplit(":", 1)[0]), int(source.rsplit(":", 1)[1]), 1
                ),
                hint="raise `finetune.preference.training.max_seq_length`, or shorten the "
                "record: a preference is only learned from whole answers",
            )
            for source, tokens in found[:MAX_REPORTED]
        ]
    )


def margin_summary(values: Sequence[float]) -> dict[str, float]:
    """Mean margin and the share of pairs the model prefers the right way."""
    if not values:
        return {}
    return {
        "margin": statistics.fmean(values),
        "accuracy": sum(v > 0 for v in values) / len(values),
        "pairs": float(len(values)),
    }


def measured_on(train: Sequence[Any], validation: Sequence[Any]) -> tuple[str, list[Any]]:
    """The pairs margins are measured on: the held-out ones, else (none held out) the
    training pairs, said so."""
    held = [e for e in validation if e.paired]
    if held:
        return "held-out", held
    return "training", [e for e in train if e.paired]


def margins_of(
    job: JobConfig, base: Path, adapter: Path | None, pairs: Sequence[Any], cache: Path | None
) -> dict[str, Any]:
    """The margins of a model (base and adapter) on ``pairs``, shaped as the fine-tune's probe
    (cached like its baseline, so a resumed apply measures the starting point once)."""
    import json

    if cache is not None and cache.is_file():
        return dict(json.loads(cache.read_text(encoding="utf-8")))
    from llmspec.runtime.preference import margins

    values = margins(base, adapter, pairs, job.compute.device)
    outcome = {"answers": [], "scores": margin_summary(values), "margins": values}
    if cache is not None:
        cache.write_text(json.dumps(outcome), encoding="utf-8")
    return outcome
