"""Every built-in answer metric equals its reference on a few hundred varied pairs: ROUGE-L is
rouge-score's `rougeL` F-measure, BLEU is sacrebleu's sentence BLEU (on 0-1), exact match and
contains follow the normalisation their docstrings state."""

from __future__ import annotations

import random
import string
from pathlib import Path

import pytest

from llmspec.runtime.metrics import bleu, contains, exact_match, rouge_l

WORDS = ["the", "cat", "sat", "on", "mat", "Billing", "invoice", "owner", "can't", "e-mail",
         "café", "naïve", "Straße", "日本語", "テスト", "🙂", "42", "3.14", "U.S.", "running",
         "runs", "ran", "Admin", "admins", "settings", "—", "«quoted»", "x"]  # fmt: skip


def pairs(n: int = 240, seed: int = 7) -> list[tuple[str, str]]:
    """Case, punctuation, unicode, empty, whitespace and very long strings."""
    rng = random.Random(seed)

    def sentence(low: int, high: int) -> str:
        words = [rng.choice(WORDS) for _ in range(rng.randint(low, high))]
        text = " ".join(w.upper() if rng.random() < 0.1 else w for w in words)
        if rng.random() < 0.3:
            text += rng.choice(string.punctuation)
        return text if rng.random() > 0.05 else "  " + text.replace(" ", "\t ") + " \n"

    out = [("", ""), ("", "the cat"), ("the cat", ""), ("!!!", "?"), ("🙂", "🙂")]
    out += [("long " * 3000 + "end", "long " * 2500 + "fin")]
    while len(out) < n:
        reference = sentence(1, 25)
        kind = rng.random()
        if kind < 0.3:  # a close paraphrase
            words = reference.split()
            rng.shuffle(words[: len(words) // 2])
            prediction = " ".join(words)
        elif kind < 0.45:
            prediction = reference.lower()
        else:
            prediction = sentence(0, 30)
        out.append((prediction, reference))
    return out


PAIRS = pairs()


def test_the_pairs_are_many_and_varied() -> None:
    assert len(PAIRS) >= 200
    joined = " ".join(p + r for p, r in PAIRS)
    assert any(ord(c) > 127 for c in joined) and any(c in string.punctuation for c in joined)
    assert any(p == "" for p, _ in PAIRS) and any(len(p) > 10_000 for p, _ in PAIRS)


@pytest.mark.parametrize("use_stemmer", [False, True])
def test_rouge_l_is_rouge_scores_rouge_l_f_measure(use_stemmer: bool) -> None:
    from rouge_score import rouge_scorer

    reference = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=use_stemmer)
    for prediction, target in PAIRS:
        expected = reference.score(target, prediction)["rougeL"].fmeasure
        got = rouge_l(prediction, target, use_stemmer=use_stemmer)
        assert got == pytest.approx(expected, abs=1e-9), (prediction, target)


@pytest.mark.parametrize(
    "options",
    [{}, {"tokenize": "char"}, {"lowercase": True}, {"smooth_method": "floor"}],
    ids=["defaults", "char", "lowercase", "floor"],
)
def test_bleu_is_sacrebleus_sentence_bleu(options: dict[str, object]) -> None:
    import sacrebleu

    for prediction, target in PAIRS:
        expected = sacrebleu.sentence_bleu(prediction, [target], **options).score / 100  # type: ignore[arg-type]
        got = bleu(prediction, target, **options)  # type: ignore[arg-type]
        assert got == pytest.approx(expected, abs=1e-9), (prediction, target)


def _normalised(text: str) -> str:  # the definition, written out independently
    kept = "".join(c for c in text.lower() if c not in string.punctuation)
    return " ".join(kept.split())


def test_exact_match_and_contains_follow_their_stated_normalisation() -> None:
    for prediction, target in PAIRS:
        assert exact_match(prediction, target) == float(
            _normalised(prediction) == _normalised(target)
        )
        assert contains(prediction, target) == float(_normalised(target) in _normalised(prediction))
    assert exact_match("The Cat!", "the  cat") == 1.0 and exact_match("a cat", "cat") == 0.0


def test_metric_options_reach_the_library_and_are_checked_per_metric(tmp_path: Path) -> None:
    from llmspec.kinds.evaluate.score import scorer
    from llmspec.spec.evaluation import Metric

    stemmed = Metric.model_validate({"name": "rouge_l", "options": {"use_stemmer": True}})
    score = scorer(stemmed.model_dump(mode="json"), "answer", "relevant", tmp_path)
    assert score({"answer": "running cats"}, {"answer": "run cat"}) == 1.0
    plain = scorer({"name": "rouge_l"}, "answer", "relevant", tmp_path)
    assert plain({"answer": "running cats"}, {"answer": "run cat"}) == 0.0
    with pytest.raises(ValueError, match="`tokenize` is an option of `bleu` only"):
        Metric.model_validate({"name": "rouge_l", "options": {"tokenize": "char"}})


def test_a_metric_that_raises_stops_the_evaluation_naming_it_and_the_example(
    tmp_path: Path,
) -> None:
    from llmspec.engine.step import StepFailed
    from llmspec.kinds.evaluate.score import score_all

    (tmp_path / "flaky.py").write_text(
        "def score(example, prediction):\n"
        "    if example['q'] == 'two':\n"
        "        raise KeyError('cites')\n"
        "    return 1.0\n"
    )
    records = [{"q": "one", "a": "x"}, {"q": "two", "a": "y"}]
    answered = [{"answer": "x", "sources": [], "error": None}] * 2
    metrics = [{"name": "cites", "function": "flaky:score"}]
    with pytest.raises(StepFailed) as failed:
        score_all(metrics, records, answered, "a", "r", tmp_path, ids=["golden:1", "golden:2"])
    (diagnostic,) = failed.value.diagnostics
    assert diagnostic.code == "LS730"
    assert "`cites`" in diagnostic.message and "`golden:2`" in diagnostic.message
    unanswered = [{"answer": "", "sources": [], "error": "timeout"}] * 2
    assert score_all(metrics, records, unanswered, "a", "r", tmp_path) == {"cites": [None, None]}
