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
