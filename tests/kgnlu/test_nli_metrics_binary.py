"""Binary NLI scoring (``kgnlu.training.nli_metrics``): entailment against neutral + contradiction."""

from __future__ import annotations

import numpy as np

from kgnlu.labels import BINARY_LABELS
from kgnlu.training.nli_metrics import binary_gold, classification_metrics, to_binary


def test_to_binary_sums_neutral_and_contradiction():
    probs = np.array([[0.4, 0.35, 0.25],   # 3-way: entailment; binary: not (0.6)
                      [0.7, 0.2, 0.1],
                      [0.1, 0.1, 0.8]])
    two = to_binary(probs)
    np.testing.assert_allclose(two, [[0.4, 0.6], [0.7, 0.3], [0.1, 0.9]])
    report = classification_metrics(binary_gold(["entailment", "entailment", "contradiction"]), two, BINARY_LABELS)
    assert report["confusion"]["matrix"] == [[1, 1], [0, 1]]
    assert report["accuracy"] == 2 / 3
    assert report["per_class"]["entailment"] == {"precision": 1.0, "recall": 0.5, "f1": 2 / 3, "support": 2}


def test_binary_gold():
    assert binary_gold(["entailment", "neutral", "contradiction", "not_entailment"]) == [
        "entailment", "not_entailment", "not_entailment", "not_entailment"]


def test_ece_floor_is_what_a_calibrated_model_shows_on_that_many_pairs():
    """Labels drawn from the probabilities themselves: the floor shrinks with the number of pairs,
    is 0 for certain answers, and an actually calibrated sample lands near it."""
    from kgnlu.training.nli_metrics import ece_floor, reliability

    rng = np.random.default_rng(1)
    small = rng.dirichlet([2.0, 1.0, 1.0], size=300)
    large = rng.dirichlet([2.0, 1.0, 1.0], size=30000)
    f_small, f_large = ece_floor(small), ece_floor(large, draws=20)
    assert 0.02 < f_small["mean"] < 0.12 and f_small["p90"] >= f_small["mean"]
    assert f_large["mean"] < f_small["mean"] / 4
    assert ece_floor(np.eye(3)[[0, 1, 2, 2]]) == {"mean": 0.0, "p90": 0.0}
    assert ece_floor(small) == f_small  # seeded
    y = (rng.random(len(small))[:, None] > np.cumsum(small, -1)).sum(-1)
    assert reliability(small, y)["ece"] < f_small["p90"] * 1.5


def test_paired_comparison_counts_the_pairs_one_system_alone_gets_right():
    from kgnlu.training.nli_metrics import paired

    gold = [0] * 10
    a = [0, 0, 0, 0, 0, 0, 0, 0, 1, 2]  # right on 8
    b = [0, 0, 1, 1, 1, 1, 1, 1, 2, 2]  # right on 2, both of them where a is right too
    c = paired(gold, a, b)
    assert (c["differ"], c["a_only"], c["b_only"]) == (7, 6, 0)
    assert abs(c["p"] - 2 / 2 ** 6) < 1e-12  # exact two-sided binomial: both tails of 6 of 6
    assert paired(gold, b, a)["p"] == c["p"]
    assert paired(gold, a, a) == {"differ": 0, "a_only": 0, "b_only": 0, "p": 1.0}
    assert paired([0, 0], [0, 1], [1, 0])["p"] == 1.0  # one each way: no evidence either way
