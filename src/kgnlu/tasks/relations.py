"""Relation extraction over linked mentions, constrained by the ontology and fused with KG evidence.

Pipeline for one text (``RelationExtractor.extract_many``):

1. **Mentions**: the linker's mentions of the whole text (NegEx polarity included), with their
   alternative candidate concepts.
2. **Candidates** (``tasks.re_candidates``): ordered mention pairs within one sentence that the
   ontology admits a relation for under its OWL domain and range.
3. **Scoring**, by one of two scorers:
   - the trained model (``tasks.re_features.NeuralScorer``): the entity-marker cross-encoder,
     KG evidence features and the ``EvidenceGate`` (see ``kgnlu.neural.re_head``);
   - without trained weights, ``CooccurrenceScorer``: KG standing plus co-occurrence, reported as
     untrained in every result (``ExtractResult.model``).
4. **Standing** of each accepted triple (known / novel / conflicting, with its proof) from
   ``kg.relations``, and the evidence: the sentence and both spans.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import fields
from pathlib import Path

from kgnlu.kg.relations import IS_A, KNOWN, CONFLICTING, RelationKB
from kgnlu.tasks.re_candidates import CandidatePair, Scored, candidates, fill_standings
from kgnlu.types import ExtractResult, InputError, Mention, Relation

UNTRAINED = "untrained: KG + co-occurrence"


class CooccurrenceScorer:
    """The fallback when no trained model is available: KG standing plus co-occurrence.

    A known triple scores 0.9, a conflicting one 0.6 (the text says it, the KG disagrees) and a
    novel co-occurrence 0.55 (0.45, under the default threshold, when a mention's alternative
    concept was needed); is_a only with a Hearst pattern (0.8, 0.95 if known). Among a
    pair's admissible relations the best-scoring one wins; ties go to the one with most facts.
    """

    name = UNTRAINED
    trained: frozenset[str] = frozenset()

    def score(self, cands: Sequence[CandidatePair]) -> list[Scored]:
        out = []
        for c in cands:
            best = None
            for r in c.relations:
                st = c.standings[r.iri]
                if r.iri == IS_A:
                    s = 0.95 if st.status == KNOWN else (0.8 if c.isa_cue else 0.0)
                else:  # a novel pair that needed an alternative concept is too weak to report
                    s = {KNOWN: 0.9, CONFLICTING: 0.6}.get(st.status, 0.45 if c.alternative else 0.55)
                key = (s, r.facts)
                if best is None or key > best[0]:
                    best = (key, r)
            if best is None or best[0][0] <= 0:
                out.append(Scored(None, 1.0, c.negated))
            else:
                out.append(Scored(best[1], best[0][0], c.negated))
        return out


class KGLookupScorer:
    """Baseline (a) of the bench: co-occurrence plus KG lookup.

    A pair of concepts in one sentence is reported with a relation exactly when the KG already
    holds it (asserted or entailed), with the KG's polarity (a NOT annotation gives a negated
    relation); the words of the sentence are not read at all.
    """

    name = "baseline: co-occurrence + KG lookup"
    trained: frozenset[str] = frozenset()

    def __init__(self, kb: RelationKB):
        self.kb = kb

    def score(self, cands: Sequence[CandidatePair]) -> list[Scored]:
        out = []
        for c in cands:
            hit = None
            for r in c.relations:
                for negated in (False, True):
                    if self.kb.standing(c.subj_iri, r.iri, c.obj_iri, negated).status == KNOWN:
                        hit = hit or (r, negated)
            out.append(Scored(hit[0], 1.0, hit[1]) if hit else Scored(None, 1.0, False))
        return out


def _entity(m: Mention) -> dict:
    """A mention as a result's entity: its fields but the candidates (``asdict`` would copy them all)
    and the modifiers (relation extraction links qualifiers as mentions of their own: a disease's
    mode of inheritance is a relation's object, so there are none)."""
    d = {f.name: getattr(m, f.name) for f in fields(m) if f.name not in ("candidates", "modifiers")}
    d["readings"] = list(m.readings)
    return d


def _concept(m: Mention, iri: str, label: str | None) -> dict:
    return {"iri": iri, "label": label, "text": m.text, "start": m.start, "end": m.end, "score": m.score,
            "negated": m.negated}


class RelationExtractor:
    """Links, pairs, scores and checks relations against the KG (thread-safe once built).

    Args:
        linker: a ``kgnlu.tasks.linking.Linker``.
        kb: the KG's ``kgnlu.kg.relations.RelationKB``.
        scorer: a ``tasks.re_features.NeuralScorer`` or, by default, the untrained ``CooccurrenceScorer``.
        threshold: the least score of a relation that is reported.
    """

    def __init__(self, linker, kb: RelationKB, scorer=None, threshold: float = 0.5):
        self.linker = linker
        self.kb = kb
        self.scorer = scorer if scorer is not None else CooccurrenceScorer()
        self.threshold = threshold

    @property
    def model_name(self) -> str:
        return self.scorer.name

    def extract(self, text: str) -> ExtractResult:
        return self.extract_many([text])[0]

    def extract_many(self, texts: Sequence[str], threshold: float | None = None) -> list[ExtractResult]:
        from kgnlu.tasks.text import check_text

        texts = [check_text(t) for t in texts]
        thr = self.threshold if threshold is None else threshold
        if not 0.0 <= thr <= 1.0:
            raise InputError(f"threshold must be within [0, 1], not {thr}")
        linked = self.linker.link_many([t if t.strip() else "" for t in texts], top_k=5)
        per_text = [candidates(t, ms, self.kb, self.scorer.trained) for t, ms in zip(texts, linked)]
        flat = [c for cs in per_text for c in cs]
        fill_standings(flat, self.kb)
        scored = iter(self.scorer.score(flat) if flat else [])
        results = []
        for text, ms, cs in zip(texts, linked, per_text):
            rels = []
            for c in cs:
                s = next(scored)
                if s.relation is None or s.score < thr:
                    continue
                rels.append(self._relation(c, s))
            rels = _dedupe(rels)
            entities = [_entity(m) for m in ms]
            results.append(ExtractResult(text=text, relations=rels, entities=entities, model=self.model_name,
                                         candidates=len(cs)))
        return results

    def _relation(self, c: CandidatePair, s: Scored) -> Relation:
        r = s.relation
        st = c.standings.get(r.iri) if s.negated == c.negated else None
        if st is None:  # the scorer read the polarity differently from NegEx: decide again
            st = self.kb.standing(c.subj_iri, r.iri, c.obj_iri, s.negated)
        label = self.kb.tables.label
        a, b = c.sentence
        return Relation(
            subject=_concept(c.subj, c.subj_iri, label(c.subj_iri)),
            predicate={"iri": r.iri, "name": r.name, "label": r.label},
            object=_concept(c.obj, c.obj_iri, label(c.obj_iri)),
            score=round(float(s.score), 4), negated=bool(s.negated), hedged=bool(c.subj.hedged or c.obj.hedged),
            status=st.status, rule=st.rule,
            proof=st.proof(),
            evidence={"sentence": c.text[a:b], "start": a, "end": b,
                      "spans": [[c.subj.start, c.subj.end], [c.obj.start, c.obj.end]]},
            gate=round(float(s.gate), 4), neural=s.neural,
        )


def default_model_dir() -> Path:
    """The shipped relation model (``kgnlu/assets/re``); it may be absent."""
    return Path(__file__).resolve().parents[1] / "assets" / "re"


def load_extractor(linker, kb: RelationKB, model: str | Path | None = None, device: str = "auto",
                   progress=lambda s: None) -> RelationExtractor:
    """An extractor with the trained model at ``model`` (default: the shipped one), or the
    untrained KG + co-occurrence scorer when no model is given and none is shipped."""
    path = Path(model) if model else default_model_dir()
    if (path / "manifest.json").is_file():
        from kgnlu.config import resolve_device
        from kgnlu.neural.re_head import RelationModel
        from kgnlu.tasks.re_features import NeuralScorer

        progress("loading the relation model")
        try:
            m = RelationModel.load(path, device=resolve_device(device))
        except (OSError, ValueError, KeyError, RuntimeError) as e:
            raise InputError(f"{path}: cannot load the relation model ({' '.join(str(e).split())[:200]})") from None
        name = m.manifest.get("training", {}).get("name") or f"re:{path.name}"
        graphs = None
        if m.config.get("use_gnn"):
            from kgnlu.tasks.re_features import label_graph_builder

            graphs = label_graph_builder(kb.tables, resolve_device(device))
        try:
            scorer = NeuralScorer(m, kb, name=name, graph_builder=graphs)
        except ValueError as e:
            raise InputError(f"{path}: {e}") from None
        return RelationExtractor(linker, kb, scorer)
    if model:
        raise InputError(f"{path}: not a trained relation model (no manifest.json)")
    return RelationExtractor(linker, kb, CooccurrenceScorer())


def statement_rank(r: Relation) -> tuple[bool, float]:
    """How firmly ``r`` states its triple, for choosing among statements of one triple: an asserted
    one before a hedged one ("X might have Y. X has Y." states it), then the better score."""
    return not r.hedged, r.score


def _dedupe(rels: list[Relation]) -> list[Relation]:
    """One relation per (subject, predicate, object, polarity): its firmest statement (``statement_rank``)."""
    best: dict[tuple, Relation] = {}
    for r in rels:
        k = (r.subject["iri"], r.predicate["iri"], r.object["iri"], r.negated)
        if k not in best or statement_rank(r) > statement_rank(best[k]):
            best[k] = r
    return sorted(best.values(), key=lambda r: (r.evidence["start"], r.subject["start"], r.object["start"]))


__all__ = ["CooccurrenceScorer", "KGLookupScorer", "RelationExtractor", "UNTRAINED", "default_model_dir",
           "load_extractor", "statement_rank"]
