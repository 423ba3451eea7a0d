"""RE features: a candidate pair's KG evidence turned into the tensors ``RelationModel`` reads.

This is the one place where relation-extraction lookups in the KG become tensors (DESIGN.md,
"Boundaries"), as ``tasks.nli_features`` is for NLI. Per candidate (``tasks.re_candidates.CandidatePair``):

- **KG evidence features** (``sym_feature_names``), all in [0, 1]: for each relation the head
  was trained on, whether the ontology admits it for the pair and whether the triple (read with
  the text's polarity) is known or conflicting (else novel); the same three for the best relation
  no head knows ("generic", for an ontology ingested later); the NegEx flags and link scores of
  both mentions; whether an alternative concept was needed; the is_a Hearst cue; the distance
  between the mentions; the number of mentions in the sentence; how many facts the subject and
  the object take part in; whether a more general object is known for the subject; the proof length;
  whether the subject is a known object of another concept the sentence names, the pair's object
  included ("subject as object": in "Patients with DiGeorge syndrome have hypocalcemia due to
  hypoparathyroidism", hypoparathyroidism is a known phenotype of DiGeorge syndrome, so here it
  is a finding, not the disease of the same name that would have hypocalcemia).
- **label mask**: ``none`` always; a relation when the ontology admits it; every property label
  when an untrained property is admissible (its probability then goes to that property).
- **subgraph** (when the model has a GNN): ``tasks.subgraph.extract_subgraph`` around
  (subject, object), the subject in the premise role and the object in the hypothesis role.

``NeuralScorer`` runs a trained ``RelationModel`` over candidates for ``tasks.relations``.
"""

from __future__ import annotations

import math
import re
import threading
from collections.abc import Sequence
from functools import lru_cache

import numpy as np

from kgnlu.kg.relations import CONFLICTING, IS_A, KNOWN, RelationKB, RelationType
from kgnlu.tasks.re_candidates import (
    CUE_STOP, MARKERS, MENTION_MARKERS, CandidatePair, Scored, cued, needs_cue, options, stem,
)

GLOBAL_FEATURES = ("negex_subject", "negex_object", "link_subject", "link_object", "alternative", "isa_cue",
                   "distance", "mentions", "subject_facts", "object_facts", "general_known", "proof_length",
                   "subject_as_object")
MAX_DISTANCE, MAX_MENTIONS, MAX_PROOF = 40, 8, 8
HOPS, MAX_NODES, MAX_FANOUT = 1, 16, 6
GRAPH_CACHE_PAIRS = 1 << 14  # subgraphs a GraphBuilder keeps: a service meets new pairs without end


def sym_feature_names(labels: Sequence[str]) -> list[str]:
    names = []
    for lab in [*labels[1:], "generic"]:
        names += [f"{lab}:admissible", f"{lab}:known", f"{lab}:conflicting"]
    return names + list(GLOBAL_FEATURES)


def known_index(labels: Sequence[str]) -> list[int]:
    """For each label, the index of its ``:known`` feature (-1 for ``none``)."""
    names = sym_feature_names(labels)
    return [-1] + [names.index(f"{lab}:known") for lab in labels[1:]]


class FeatureBuilder:
    """KG evidence features and label masks for candidates, for one label set and one KG.

    Args:
        kb: the KG's ``RelationKB``.
        labels: head labels, ``none`` first.
        label_iris: the relation IRI of each label (``""`` for ``none``).
    """

    def __init__(self, kb: RelationKB, labels: Sequence[str], label_iris: Sequence[str]):
        self.kb = kb
        self.labels = list(labels)
        self.label_iris = list(label_iris)
        self.trained = frozenset(i for i in self.label_iris if i)
        self.names = sym_feature_names(labels)
        self._index = {n: i for i, n in enumerate(self.names)}
        self._lock = threading.Lock()
        self.subject_facts = lru_cache(maxsize=1 << 15)(self._subject_facts)
        self.object_facts = lru_cache(maxsize=1 << 15)(self._object_facts)
        self.known_object = lru_cache(maxsize=1 << 15)(self._known_object)

    def _subject_facts(self, iri: str) -> float:
        return min(1.0, math.log1p(self.kb.tables.relation_count(iri, "subj")) / math.log(1000))

    def _object_facts(self, iri: str) -> float:
        return min(1.0, math.log1p(self.kb.tables.relation_count(iri, "obj", 1000)) / math.log(1000))

    def _known_object(self, x: str, y: str) -> bool:
        """Whether the KG gives ``x`` (or a class above it) ``y`` or something below ``y``, under any property."""
        subjects = sorted(self.kb.ancestors(x))
        return any(self.kb.tables.relations_matching(subjects, r.iri, y, negated=False, direction="sub")
                   for r in self.kb.inventory() if r.iri != IS_A and r.facts)

    def subject_as_object(self, c: CandidatePair) -> bool:
        """Whether some reading of the subject is a known object of a reading of another mention
        (the pair's object included: then the text most likely states the reverse pair)."""
        ys = [y for y, _ in options(c.subj)]
        return any(self.known_object(x, y) for m in (c.obj, *c.others) for x, _ in options(m) for y in ys if x != y)

    def untrained(self, c: CandidatePair) -> list[RelationType]:
        return [r for r in c.relations if r.iri not in self.trained]

    def best_untrained(self, c: CandidatePair) -> RelationType | None:
        """The untrained admissible relation to report: cued, then known, then with most facts."""
        rels = self.untrained(c)
        if not rels:
            return None
        stext = c.text[c.sentence[0]:c.sentence[1]]

        def key(r: RelationType):
            st = c.standings.get(r.iri)
            return (needs_cue(r, frozenset()) and _label_in(r.label, stext), st is not None and st.status == KNOWN,
                    r.facts, -c.relations.index(r))
        return max(rels, key=key)

    def features(self, c: CandidatePair) -> tuple[np.ndarray, np.ndarray]:
        """``(features (D_s,), label mask (C,))`` of one candidate (standings must be filled)."""
        f = np.zeros(len(self.names), dtype=np.float32)
        mask = np.zeros(len(self.labels), dtype=bool)
        mask[0] = True
        adm = {r.iri: r for r in c.relations}
        proof = 0
        for j, (lab, iri) in enumerate(zip(self.labels, self.label_iris)):
            if j == 0 or iri not in adm:
                continue
            mask[j] = True
            st = c.standings[iri]
            f[self._index[f"{lab}:admissible"]] = 1.0
            f[self._index[f"{lab}:known"]] = st.status == KNOWN
            f[self._index[f"{lab}:conflicting"]] = st.status == CONFLICTING
            proof = max(proof, len(st.steps))
        generic = self.best_untrained(c)
        if generic is not None:
            st = c.standings[generic.iri]
            f[self._index["generic:admissible"]] = 1.0
            f[self._index["generic:known"]] = st.status == KNOWN
            f[self._index["generic:conflicting"]] = st.status == CONFLICTING
            proof = max(proof, len(st.steps))
            for j, iri in enumerate(self.label_iris):
                if j and iri != IS_A:
                    mask[j] = True
        s, o = c.subj, c.obj
        gap = c.text[min(s.end, o.end):max(s.start, o.start)]
        g = {
            "negex_subject": float(s.negated), "negex_object": float(o.negated),
            "link_subject": float(s.score), "link_object": float(o.score), "alternative": float(c.alternative),
            "isa_cue": float(c.isa_cue), "distance": min(len(gap.split()), MAX_DISTANCE) / MAX_DISTANCE,
            "mentions": min(c.mentions_in_sentence, MAX_MENTIONS) / MAX_MENTIONS,
            "subject_facts": self.subject_facts(c.subj_iri), "object_facts": self.object_facts(c.obj_iri),
            "general_known": float(self._general_known(c)), "proof_length": min(proof, MAX_PROOF) / MAX_PROOF,
            "subject_as_object": float(self.subject_as_object(c)),
        }
        for k, v in g.items():
            f[self._index[k]] = v
        return f, mask

    def _general_known(self, c: CandidatePair) -> bool:
        """The subject is known to have something more general than the object (same property)."""
        t = self.kb.tables
        subjects = sorted(self.kb.ancestors(c.subj_iri))
        for r in c.relations:
            if r.iri == IS_A or not r.facts:
                continue
            rows = t.relations_matching(subjects, r.iri, c.obj_iri, negated=False, direction="sup")
            if any(y != c.obj_iri for _, y, _ in rows):
                return True
        return False


def _label_in(label: str, sentence: str) -> bool:
    return cued(RelationType("", "", label), sentence)


def marker_text(c: CandidatePair) -> str:
    """The pair's marked sentence with BERT's unused tokens standing for the markers."""
    from kgnlu.neural.re_head import MARKER_TOKENS

    text = c.marked()
    for m, tok in zip(MARKERS, MARKER_TOKENS):
        text = text.replace(m, tok)
    return text


def sentence_marker_text(c: CandidatePair) -> tuple[str, int, int]:
    """The sentence with all its mentions marked (``CandidatePair.marked_all``) in BERT's unused
    tokens, and the ordinals of the subject's and the object's opening markers."""
    from kgnlu.neural.re_head import MARKER_TOKENS

    text, i, j = c.marked_all()
    for m, tok in zip(MENTION_MARKERS, MARKER_TOKENS):
        text = text.replace(m, tok)
    return text, i, j


def collate(cands: Sequence[CandidatePair], builder: FeatureBuilder, tokenizer, *, max_length: int = 96,
            marking: str = "pair", labels: Sequence[int] | None = None, negated: Sequence[bool] | None = None,
            neg_weight: Sequence[float] | None = None, feats: Sequence[tuple] | None = None,
            graphs: Sequence | None = None) -> dict:
    """One batch for ``RelationModel.forward``. ``feats`` (from ``builder.features``) may be precomputed.

    ``marking`` is the model's (``config["marking"]``): ``pair`` gives each candidate its own
    marked sentence (``[E1]``/``[E2]``); ``sentence`` encodes each distinct sentence once with all
    its mentions marked, and ``rows`` then says which encoded sentence a candidate reads.
    ``e1``/``e2`` are the token positions of the subject's and the object's opening markers. A
    marker cut off by truncation is pointed at the last real token, so that the pair still
    has a vector (sentences longer than ``max_length`` tokens are rare: ~1 in 500 of the dev set).
    """
    import torch

    from kgnlu.neural.re_head import MARKER_TOKENS

    if marking == "pair":
        texts = [marker_text(c) for c in cands]
        rows = list(range(len(cands)))
        ordinals = [(0, 0)] * len(cands)
        opening = tokenizer.convert_tokens_to_ids([MARKER_TOKENS[0], MARKER_TOKENS[2]])
    elif marking == "sentence":
        index: dict[str, int] = {}
        rows, ordinals = [], []
        for c in cands:
            text, i, j = sentence_marker_text(c)
            rows.append(index.setdefault(text, len(index)))
            ordinals.append((i, j))
        texts = list(index)
        opening = tokenizer.convert_tokens_to_ids([MARKER_TOKENS[0]]) * 2
    else:
        raise ValueError(f"marking must be 'pair' or 'sentence', not {marking!r}")
    enc = tokenizer(texts, padding=True, truncation=True, max_length=max_length, return_tensors="pt")
    ids = enc["input_ids"]
    last = (enc["attention_mask"].sum(1) - 2).tolist()
    found = {tok: [(row == tok).nonzero().flatten().tolist() for row in ids] for tok in set(opening)}

    def position(which: int) -> torch.Tensor:
        out = []
        for r, ords in zip(rows, ordinals):
            hits = found[opening[which]][r]
            out.append(hits[ords[which]] if ords[which] < len(hits) else last[r])
        return torch.tensor(out, dtype=torch.long)

    feats = list(feats) if feats is not None else [builder.features(c) for c in cands]
    batch = dict(enc)
    batch.update(
        rows=torch.tensor(rows, dtype=torch.long), e1=position(0), e2=position(1),
        symbolic=torch.from_numpy(np.stack([f for f, _ in feats])),
        label_mask=torch.from_numpy(np.stack([m for _, m in feats])),
        negex=torch.tensor([[float(c.subj.negated), float(c.obj.negated)] for c in cands]),
    )
    if graphs is not None:
        batch.update(_stack_graphs(graphs))
    if labels is not None:
        batch["labels"] = torch.tensor(list(labels), dtype=torch.long)
        batch["negated"] = torch.tensor([float(x) for x in negated], dtype=torch.float32)
        batch["neg_weight"] = torch.tensor(list(neg_weight), dtype=torch.float32)
    return batch


def batch_order(cands: Sequence[CandidatePair], marking: str) -> list[int]:
    """Candidates in an order that batches well: by marked length, a sentence's pairs together."""
    if marking == "sentence":
        def key(i: int) -> tuple[int, str]:
            a, b = cands[i].sentence
            return b - a, cands[i].text[a:b]
        return sorted(range(len(cands)), key=key)
    return sorted(range(len(cands)), key=lambda i: len(cands[i].marked()))


# -- the GNN's input ---------------------------------------------------------------------------

class GraphBuilder:
    """Subgraphs around (subject, object) with label vectors, as ``tasks.nli_features`` builds them for NLI."""

    def __init__(self, tables, node_vectors):
        self.tables = tables
        self.node_vectors = node_vectors
        self._subgraph = lru_cache(maxsize=GRAPH_CACHE_PAIRS)(self._extract)

    def _extract(self, subj: str, obj: str) -> tuple:
        from kgnlu.tasks.subgraph import extract_subgraph

        sg = extract_subgraph(self.tables, [subj], [obj], hops=HOPS, max_nodes=MAX_NODES, max_fanout=MAX_FANOUT)
        return sg.nodes, np.array(sg.edges, dtype=np.int64).reshape(-1, 3), sg.role

    def __call__(self, c: CandidatePair):
        nodes, edges, role = self._subgraph(c.subj_iri, c.obj_iri)
        return self.node_vectors(nodes), edges, role


def label_graph_builder(tables, device: str = "cpu") -> GraphBuilder:
    """A ``GraphBuilder`` whose node vectors are the concepts' labels embedded by the frozen MiniLM."""
    from kgnlu.neural.encoder import MiniLMEncoder
    from kgnlu.tasks.subgraph import LabelVectors

    return GraphBuilder(tables, LabelVectors(MiniLMEncoder(device=device), tables.labels))


def _stack_graphs(graphs: Sequence[tuple]) -> dict:
    import torch

    xs, roles, ei, et, nb, off = [], [], [], [], [], 0
    for g, (x, edges, role) in enumerate(graphs):
        n = len(role)
        xs.append(torch.from_numpy(np.asarray(x, dtype=np.float32)))
        roles.append(torch.from_numpy(role))
        ei.append(torch.from_numpy(edges[:, :2].T.copy()) + off)
        et.append(torch.from_numpy(edges[:, 2].copy()))
        nb.append(torch.full((n,), g, dtype=torch.long))
        off += n
    return {"x": torch.cat(xs), "role": torch.cat(roles), "edge_index": torch.cat(ei, 1), "edge_type": torch.cat(et),
            "node_batch": torch.cat(nb)}


# -- inference ---------------------------------------------------------------------------------

class NeuralScorer:
    """Scores candidates with a trained ``RelationModel`` (CPU or GPU; batches sorted by length).

    Args:
        model: a loaded ``RelationModel``.
        kb: the KG's ``RelationKB`` (the model's relations are matched by IRI).
        mode: ``fused`` (default), ``neural`` (no KG evidence: the bench's ablation) or ``kg``.
        name: what ``ExtractResult.model`` reports.
    """

    def __init__(self, model, kb: RelationKB, *, mode: str = "fused", name: str = "re", batch_size: int = 64,
                 graph_builder=None):
        self.model = model
        self.kb = kb
        self.mode = mode
        self.name = f"{name} ({mode})" if mode != "fused" else name
        self.batch_size = batch_size
        self.builder = FeatureBuilder(kb, model.config["labels"], model.config["label_iris"])
        saved = model.config.get("sym_features")
        if saved is not None and list(saved) != self.builder.names:
            missing = sorted(set(self.builder.names) - set(saved)) or sorted(set(saved) - set(self.builder.names))
            raise ValueError(f"the model was trained with other KG features than this version computes "
                             f"({len(saved)} against {len(self.builder.names)}, e.g. {missing[:1]}): "
                             f"retrain it with `kgnlu train re`")
        self.trained = self.builder.trained
        self.graph_builder = graph_builder
        self._lock = threading.Lock()

    def score(self, cands: Sequence[CandidatePair]) -> list[Scored]:
        import torch

        from kgnlu.neural.fused import batch_to

        labels, iris = self.builder.labels, self.builder.label_iris
        by_iri = {r.iri: r for r in self.kb.inventory()}
        marking = self.model.config.get("marking", "pair")
        order = batch_order(cands, marking)
        out: list[Scored | None] = [None] * len(cands)
        with self._lock, torch.inference_mode():
            for start in range(0, len(order), self.batch_size):
                idx = order[start:start + self.batch_size]
                chunk = [cands[i] for i in idx]
                graphs = [self.graph_builder(c) for c in chunk] if self.graph_builder is not None else None
                batch = collate(chunk, self.builder, self.model.tokenizer, max_length=self.model.config["max_length"],
                                marking=marking, graphs=graphs)
                res = self.model(batch_to(batch, self.model.device), mode=self.mode)
                probs = res["probs"].float().cpu().numpy()
                p_neural, p_kg = res["p_neural"].float().cpu().numpy(), res["p_kg"].float().cpu().numpy()
                gates = res["gate"].float().cpu().numpy()
                neg = torch.sigmoid(res["neg_logit"]).float().cpu().numpy()
                for k, i in enumerate(idx):
                    c = cands[i]
                    j = int(probs[k].argmax())
                    neural = {"probabilities": _named(labels, probs[k]), "neural": _named(labels, p_neural[k]),
                              "kg": _named(labels, p_kg[k]), "p_negated": round(float(neg[k]), 4)}
                    # The model's negation head decides the relation's polarity, not NegEx: it reads
                    # NegEx's flags of both mentions (``negex`` in ``collate``, and the features) with
                    # the sentence, so it knows when a cue scoping a mention leaves the pair asserted
                    # ("Kids with X who don't take their medicine can get Y", "Without treatment, X
                    # causes Y", "Y is not a feature of A, in contrast to B", "Y is not uncommon in X")
                    # and catches negations NegEx has no cue for ("Y and Z do not occur in X", "Y has
                    # never been reported in X"). Measured on the RE bench (seed 13), polarity errors
                    # among reported relations with a gold match: model 2 of 1,163 (test), 0 of 149
                    # (clinical dev), 0 of 21 (denied lists); NegEx (either mention negated) 68 / 2 / 0;
                    # model OR NegEx 49 / 2 / 0; model AND NegEx 21 / 0 / 0. The mentions' own
                    # ``negated`` (NegEx) stay in the relation's subject and object for a reader.
                    negated = bool(neg[k] > 0.5)
                    if j == 0:
                        out[i] = Scored(None, float(probs[k][0]), negated, float(gates[k]), neural)
                        continue
                    rel = by_iri.get(iris[j]) if any(r.iri == iris[j] for r in c.relations) else None
                    if rel is None:  # the mass of an inadmissible label stands for an untrained property
                        rel = self._generic(c)
                        if rel is None:
                            out[i] = Scored(None, float(probs[k][0]), negated, float(gates[k]), neural)
                            continue
                        neural["generic"] = rel.name
                    out[i] = Scored(rel, float(probs[k][j]), negated, float(gates[k]), neural)
        return out  # type: ignore[return-value]


    def _generic(self, c: CandidatePair) -> RelationType | None:
        """The untrained property a relation-stating pair gets, if the text or the KG names it.

        No head was trained for it, so the model's "some relation is stated" is not enough: one
        of the property label's words must be in the sentence ("contain" for *contains nutrient*),
        or the KG must already hold the triple. Otherwise a word such as "severe" would become
        the object of *has clinical modifier* whenever a sentence states anything.
        """
        rel = self.builder.best_untrained(c)
        if rel is None:
            return None
        words = {stem(w) for w in re.findall(r"[^\W_]+", rel.label)} - CUE_STOP
        sentence = {stem(w) for w in re.findall(r"[^\W_]+", c.text[c.sentence[0]:c.sentence[1]])}
        st = c.standings.get(rel.iri)
        return rel if words & sentence or (st is not None and st.status == KNOWN) else None


def _named(labels: Sequence[str], p: np.ndarray) -> dict[str, float]:
    return {lab: round(float(x), 4) for lab, x in zip(labels, p) if x > 5e-5}


__all__ = ["FeatureBuilder", "GraphBuilder", "NeuralScorer", "batch_order", "collate", "known_index",
           "label_graph_builder", "marker_text", "sentence_marker_text", "sym_feature_names", "GLOBAL_FEATURES"]
