"""Answer metrics and retrieval metrics against an eval record, each following a stated
definition: ROUGE-L and BLEU are their reference implementations' (`rouge-score`,
`sacrebleu`); the others are defined here, in their docstrings, and tested against those
definitions."""

from __future__ import annotations

import string
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

_PUNCT = str.maketrans("", "", string.punctuation)


def normalize(text: str) -> str:
    """Lower case, ASCII punctuation (`string.punctuation`) removed, whitespace collapsed to
    single spaces: SQuAD's answer normalisation without its removal of articles."""
    return " ".join(text.lower().translate(_PUNCT).split())


def exact_match(prediction: str, reference: str) -> float:
    """1.0 when the normalised answer equals the normalised reference (see `normalize`)."""
    return float(normalize(prediction) == normalize(reference))


def rouge_l(prediction: str, reference: str, *, use_stemmer: bool = False) -> float:
    """ROUGE-L F-measure as Google's `rouge-score` computes it (the reference implementation of
    ROUGE-1.5.5's ROUGE-L): its default tokenizer lower-cases and keeps runs of ``[a-z0-9]``
    (other characters, accented letters included, separate tokens), no stemming unless
    ``use_stemmer`` (Porter); the longest common subsequence's precision and recall combined
    with beta = 1. An empty side scores 0."""
    return float(_rouge(use_stemmer).score(reference, prediction)["rougeL"].fmeasure)


@lru_cache(maxsize=2)
def _rouge(use_stemmer: bool) -> Any:
    from rouge_score import rouge_scorer  # type: ignore[import-untyped]

    return rouge_scorer.RougeScorer(["rougeL"], use_stemmer=use_stemmer)


def matches(source: str, relevant: str) -> bool:
    """A retrieved source matches a relevant doc written as the same path or a path suffix
    (``billing/invoices.md`` matches ``data/help-center/billing/invoices.md``)."""
    source, relevant = source.replace("\\", "/"), relevant.replace("\\", "/").removeprefix("./")
    return source == relevant or source.endswith("/" + relevant)


def recall_at_k(sources: Sequence[str], relevant: Sequence[str], k: int) -> float:
    """Share of the relevant docs found among the first k distinct retrieved sources."""
    if not relevant:
        return 0.0
    top = list(dict.fromkeys(sources))[:k]
    found = sum(any(matches(s, r) for s in top) for r in relevant)
    return found / len(relevant)


def mrr_at_k(sources: Sequence[str], relevant: Sequence[str], k: int) -> float:
    """1 / rank of the first relevant source within the first k distinct sources, else 0."""
    for rank, source in enumerate(list(dict.fromkeys(sources))[:k], start=1):
        if any(matches(source, r) for r in relevant):
            return 1.0 / rank
    return 0.0


def bleu(
    prediction: str,
    reference: str,
    *,
    tokenize: str = "13a",
    lowercase: bool = False,
    smooth_method: str = "exp",
) -> float:
    """Sentence BLEU as `sacrebleu.sentence_bleu` computes it, on a 0-1 scale (sacrebleu
    reports 0-100): its defaults are the `13a` tokenizer (mteval's), case-sensitive, 4-grams,
    exponential smoothing of zero n-gram counts, and the brevity penalty. ``tokenize``,
    ``lowercase`` and ``smooth_method`` are sacrebleu's options of the same names."""
    scorer = _bleu(tokenize, lowercase, smooth_method)
    return float(scorer.sentence_score(prediction, [reference]).score) / 100.0


@lru_cache(maxsize=8)
def _bleu(tokenize: str, lowercase: bool, smooth_method: str) -> Any:
    from sacrebleu.metrics.bleu import BLEU

    # effective order, as sacrebleu.sentence_bleu: a short sentence is not scored on n-grams
    # it cannot have
    return BLEU(tokenize=tokenize, lowercase=lowercase, smooth_method=smooth_method,
                effective_order=True)  # fmt: skip


def contains(prediction: str, reference: str) -> float:
    """1.0 when the normalised reference appears in the normalised answer."""
    return float(normalize(reference) in normalize(prediction))
