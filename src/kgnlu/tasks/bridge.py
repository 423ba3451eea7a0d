"""Transitional: ``tasks.bridge`` was split into ``tasks.subgraph`` and ``tasks.nli_features``.

Kept only until the last importers (``runtime``, ``training.nli_train``, ``tasks.nli_fused``) move
to those names; then this file goes.
"""

from kgnlu.tasks.nli_features import (  # noqa: F401
    SYMBOLIC_FEATURES, PairFeatures, collate, feature_spec, featurize, symbolic_features,
)
from kgnlu.tasks.subgraph import (  # noqa: F401
    EDGE_TYPES, HOPS, MAX_FANOUT, MAX_NODES, GraphTensors, LabelVectors, NeighbourCache, Subgraph, extract_subgraph,
    label_text,
)
