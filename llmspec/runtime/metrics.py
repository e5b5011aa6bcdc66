"""Answer metrics (exact match, ROUGE-L) and retrieval metrics against an eval record."""

from __future__ import annotations

import re
import string
from collections.abc import Sequence

_PUNCT = str.maketrans("", "", string.punctuation)


def normalize(text: str) -> str:
    """Lower case, no punctuation, single spaces (the usual SQuAD-style normalisation)."""
    return " ".join(text.lower().translate(_PUNCT).split())


def exact_match(prediction: str, reference: str) -> float:
    return float(normalize(prediction) == normalize(reference))


def rouge_l(prediction: str, reference: str) -> float:
    """ROUGE-L F1 over lower-cased word tokens: the longest common subsequence's precision and
    recall combined (as ROUGE-1.5.5 with beta = 1)."""
    pred, ref = re.findall(r"\w+", prediction.lower()), re.findall(r"\w+", reference.lower())
    if not pred or not ref:
        return float(pred == ref)
    previous = [0] * (len(ref) + 1)
    for token in pred:
        current = [0]
        for j, other in enumerate(ref):
            current.append(previous[j] + 1 if token == other else max(previous[j + 1], current[j]))
        previous = current
    lcs = previous[-1]
    if lcs == 0:
        return 0.0
    precision, recall = lcs / len(pred), lcs / len(ref)
    return 2 * precision * recall / (precision + recall)


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


def bleu(prediction: str, reference: str, max_n: int = 4) -> float:
    """Sentence BLEU-4 over lower-cased word tokens, with add-one smoothing of the n-gram
    precisions above unigrams (Lin & Och 2004) and the brevity penalty."""
    import math
    from collections import Counter

    pred, ref = re.findall(r"\w+", prediction.lower()), re.findall(r"\w+", reference.lower())
    if not pred or not ref:
        return float(pred == ref)
    logs = 0.0
    for n in range(1, max_n + 1):
        grams = Counter(tuple(pred[i : i + n]) for i in range(len(pred) - n + 1))
        refs = Counter(tuple(ref[i : i + n]) for i in range(len(ref) - n + 1))
        matched, total = sum((grams & refs).values()), max(sum(grams.values()), 0)
        if n > 1:
            matched, total = matched + 1, total + 1
        if matched == 0 or total == 0:
            return 0.0
        logs += math.log(matched / total) / max_n
    brevity = 1.0 if len(pred) > len(ref) else math.exp(1 - len(ref) / len(pred))
    return brevity * math.exp(logs)


def contains(prediction: str, reference: str) -> float:
    """1.0 when the normalised reference appears in the normalised answer."""
    return float(normalize(reference) in normalize(prediction))
