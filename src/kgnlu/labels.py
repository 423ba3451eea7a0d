"""Label orders shared by the symbolic and the neural side (no imports: both sides may use it).

Every tensor with a class axis is ordered by ``ID2LABEL``; every verdict one-hot by ``VERDICTS``
(the order of ``kgnlu.kg.rules.VERDICTS``, checked in ``kgnlu.tasks.nli_features``).
"""

from __future__ import annotations

ID2LABEL = {0: "entailment", 1: "neutral", 2: "contradiction"}
LABEL2ID = {v: k for k, v in ID2LABEL.items()}
LABELS = tuple(ID2LABEL[i] for i in range(len(ID2LABEL)))
# Binary sets (RTE-style: entailment vs not) are scored by summing neutral and contradiction.
BINARY_LABELS = ("entailment", "not_entailment")
NOT_ENTAILMENT = frozenset({"not_entailment", "not-entailment", "not entailment", "non_entailment", "non-entailment",
                            "non entailment"})
VERDICTS = ("entailment", "contradiction", "unknown")
VERDICT_TO_LABEL = {"entailment": "entailment", "contradiction": "contradiction", "unknown": "neutral"}

__all__ = ["ID2LABEL", "LABEL2ID", "LABELS", "BINARY_LABELS", "NOT_ENTAILMENT", "VERDICTS", "VERDICT_TO_LABEL"]
