"""Relation extraction over linked mentions, constrained by the ontology and fused with KG evidence.

Pipeline for one text (``RelationExtractor.extract_many``):

1. **Mentions**: the linker's mentions of the whole text (NegEx polarity included), with their
   alternative candidate concepts.
2. **Sentences**: a rule-based splitter (``split_sentences``); a relation must be stated in one.
3. **Candidates** (``candidates``): every ordered pair of mentions in a sentence (both orders),
   kept when some relation of the KG's inventory admits it under its OWL domain and range
   (``kg.relations.RelationKB.admissible``): a drug cannot ``has_phenotype``. When the top
   concepts of two mentions admit nothing, their alternative candidates are tried (the ontology
   disambiguates "homocystinuria" the phenotype from homocystinuria the disease). Properties that
   no trained head knows and that have neither facts nor domain and range need a lexical cue
   (their label's words in the sentence), or every pair of concepts would be a candidate.
4. **Scoring**, by one of two scorers:
   - the trained model (``tasks.re_features.NeuralScorer``): the entity-marker cross-encoder,
     KG evidence features and the ``EvidenceGate`` (see ``kgnlu.neural.re_head``);
   - without trained weights, ``CooccurrenceScorer``: KG standing plus co-occurrence, reported as
     untrained in every result (``ExtractResult.model``).
5. **Standing** of each accepted triple (known / novel / conflicting, with its proof) from
   ``kg.relations``, and the evidence: the sentence and both spans.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path

from kgnlu.kg.matcher import normalize
from kgnlu.kg.relations import IS_A, KNOWN, CONFLICTING, RelationKB, RelationType, Standing
from kgnlu.types import ExtractResult, InputError, Mention, Relation

MAX_PAIRS_PER_SENTENCE = 64
MAX_MENTIONS_PER_SENTENCE = 16
ALT_MARGIN = 0.2  # an alternative concept of a mention is tried if it scores within this of the best
UNTRAINED = "untrained: KG + co-occurrence"
MARKERS = ("[E1]", "[/E1]", "[E2]", "[/E2]")
MENTION_MARKERS = ("[E]", "[/E]")  # around every mention of a sentence (``marked_all``)

# Sentence ends: . ! ? followed by space and a capital, digit or quote, or a blank line. Not after
# common abbreviations or single initials ("e.g.", "Dr.", "J. Smith").
_ABBREV = {"e.g", "i.e", "dr", "mr", "mrs", "ms", "vs", "approx", "fig", "no", "st", "etc", "cf", "al", "resp", "incl"}
_END = re.compile(r"[.!?]+[\"')\]]*(?=\s+[\"'(\[]?[A-Z0-9])|\n\s*\n")
_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_CUE_STOP = frozenset("has have is a an the of in to with by for at on part".split())

# Hearst-style patterns for is_a between a subject (X) and an object (Y) mention.
_ISA_XY = re.compile(r"^\s*(,?\s*(which|that)\s+)?(is|are|was|were|represents?|constitutes?)\s+"
                     r"(not\s+|no\s+longer\s+)?(now\s+)?"
                     r"(considered|classified|regarded|recognized|recognised|thought|known)?\s*(to\s+be\s+|as\s+)?"
                     r"(a|an|one|the)?\s*((rare|common|specific|particular|distinct|severe|mild|clinical|"
                     r"genetic|inherited|hereditary|heterogeneous|special|major)\s+)*"
                     r"((form|type|kind|subtype|variant|class|category|subset|example|manifestation|cause)s?\s+of\s+)?"
                     r"(\w+\s+)?$", re.I)
_ISA_YX = re.compile(r"^\s*,?\s*(such\s+as|including|like|e\.g\.,?|especially|particularly|for\s+example)\s*$", re.I)
_ISA_X_OTHER_Y = re.compile(r"^\s*,?\s*(and|or)\s+(other|another)\s+(forms?\s+of\s+|types?\s+of\s+)?$", re.I)


def split_sentences(text: str) -> list[tuple[int, int]]:
    """``(start, end)`` offsets of the sentences of ``text`` (whitespace trimmed, none empty)."""
    spans, start = [], 0
    for m in _END.finditer(text):
        if m.group().startswith((".",)) and "\n" not in m.group():
            word = re.search(r"(\S*?)\s*([\w.]+)\.*$", text[start:m.start()])
            prev = word.group(2).lower().rstrip(".") if word else ""
            before = word.group(1) if word else ""
            # "Dr. J. Smith" and "Mary J. Smith" hold initials; "vitamin C. Lemons" and, at the
            # start of a sentence, "Hepatitis B. Patients" end one.
            first = len(text[start:m.start()].split()) <= 2  # ``before`` opens the sentence
            b = before.lower().rstrip(".")
            initial = len(prev) == 1 and prev.isalpha() and before[:1].isupper() and (b in _ABBREV or not first)
            if prev in _ABBREV or initial:
                continue
        spans.append((start, m.end()))
        start = m.end()
    spans.append((start, len(text)))
    out = []
    for a, b in spans:
        while a < b and text[a].isspace():
            a += 1
        while b > a and text[b - 1].isspace():
            b -= 1
        if b > a:
            out.append((a, b))
    return out


def isa_pattern(text: str, subj: Mention, obj: Mention) -> bool:
    """Whether the words between the two mentions read as "X is a (form of) Y" or "Y such as X"."""
    if subj.end <= obj.start:
        return bool(_ISA_XY.match(text[subj.end:obj.start]) or _ISA_X_OTHER_Y.match(text[subj.end:obj.start]))
    if obj.end <= subj.start:
        return bool(_ISA_YX.match(text[obj.end:subj.start]))
    return False


def _splice(text: str, sentence: tuple[int, int], inserts: Sequence[tuple[int, str]]) -> str:
    """The sentence with each tag inserted at its offset, in the order given; whitespace collapsed."""
    a, b = sentence
    out, pos = [], a
    for at, tag in inserts:
        out.append(text[pos:at])
        out.append(tag)
        pos = at
    out.append(text[pos:b])
    return " ".join("".join(out).split())


def marked(text: str, sentence: tuple[int, int], subj: Mention, obj: Mention) -> str:
    """The sentence with ``[E1] subject [/E1]`` and ``[E2] object [/E2]`` inserted, in text order."""
    inserts = sorted([(subj.start, " [E1] "), (subj.end, " [/E1] "), (obj.start, " [E2] "), (obj.end, " [/E2] ")],
                     key=lambda t: (t[0], not t[1].startswith(" [/")))  # at one offset, close before open
    return _splice(text, sentence, inserts)


def marked_all(text: str, sentence: tuple[int, int], mentions: Sequence[Mention]) -> tuple[str, list[int]]:
    """The sentence with every one of ``mentions`` between ``[E]`` and ``[/E]``, and the ordinal of
    each mention's opening marker among the opening markers (the k-th ``[E]`` opens mention k's span).

    One marked sentence serves all candidate pairs of the sentence: the encoder reads it once, and
    a pair is read off at its two mentions' markers (its direction is the order of the two vectors).
    """
    # At one offset: closing markers first, inner spans' closing first; then opening, outer spans first.
    order = sorted([(m.start, 1, -(m.end - m.start), i) for i, m in enumerate(mentions)]
                   + [(m.end, 0, m.end - m.start, i) for i, m in enumerate(mentions)])
    inserts, ordinal, opened = [], [0] * len(mentions), 0
    for at, is_open, _, i in order:
        if is_open:
            ordinal[i] = opened
            opened += 1
        inserts.append((at, f" {MENTION_MARKERS[0]} " if is_open else f" {MENTION_MARKERS[1]} "))
    return _splice(text, sentence, inserts), ordinal


@dataclass
class Candidate:
    """An ordered pair of mentions in one sentence and the relations the ontology admits for it."""

    text: str
    sentence: tuple[int, int]
    subj: Mention
    obj: Mention
    subj_iri: str
    obj_iri: str
    relations: list[RelationType]  # admissible, in inventory order
    isa_cue: bool = False
    others: tuple[Mention, ...] = ()  # the sentence's other mentions
    alternative: bool = False  # a mention's alternative concept was needed to admit a relation
    standings: dict[str, Standing] = field(default_factory=dict)  # relation IRI -> standing (as negated reads)

    @property
    def mentions_in_sentence(self) -> int:
        return len(self.others) + 2

    @property
    def negated(self) -> bool:
        """NegEx polarity of the pair: either mention in a negation scope."""
        return bool(self.subj.negated or self.obj.negated)

    def marked(self) -> str:
        return marked(self.text, self.sentence, self.subj, self.obj)

    def marked_all(self) -> tuple[str, int, int]:
        """The sentence with all its mentions marked (``marked_all``), and the ordinals of the
        subject's and the object's opening markers. The same text for every pair of the sentence."""
        ms = sorted((self.subj, self.obj, *self.others), key=lambda m: (m.start, m.end))
        text, ordinal = marked_all(self.text, self.sentence, ms)
        at = {id(m): k for k, m in enumerate(ms)}
        return text, ordinal[at[id(self.subj)]], ordinal[at[id(self.obj)]]

    def key(self) -> tuple:
        return (self.sentence, self.subj.start, self.subj.end, self.obj.start, self.obj.end)


def _options(m: Mention) -> list[tuple[str, float]]:
    """The mention's concept and its close alternatives, best first."""
    out = [(m.iri, m.score)]
    for c in m.candidates:
        if c.iri != m.iri and c.score >= m.score - ALT_MARGIN and all(c.iri != o for o, _ in out):
            out.append((c.iri, c.score))
    return out[:4]


def _stem(word: str) -> str:
    """A crude English stem, enough to match "contains" with "contain" but not "inherited" with "inheres"."""
    w = word.lower()
    for suffix in ("ing", "ed", "es", "s"):
        if w.endswith(suffix) and len(w) - len(suffix) >= 3:
            return w[: -len(suffix)]
    return w


def _cued(rel: RelationType, sentence: str) -> bool:
    words = [_stem(w) for w in _WORD.findall(rel.label) if w.lower() not in _CUE_STOP]
    if not words:
        return False
    toks = {_stem(w) for w in _WORD.findall(sentence)}
    return all(w in toks for w in words)


def needs_cue(rel: RelationType, trained: frozenset[str]) -> bool:
    """Properties a scorer cannot place by training or by the ontology need their label in the text."""
    return rel.iri not in trained and rel.iri != IS_A and not rel.facts and not (rel.domains and rel.ranges)


def candidates(text: str, mentions: Sequence[Mention], kb: RelationKB, trained: frozenset[str] = frozenset(),
               sentences: list[tuple[int, int]] | None = None) -> list[Candidate]:
    """Ordered mention pairs within one sentence, filtered by OWL domain and range (see the module doc)."""
    sentences = sentences if sentences is not None else split_sentences(text)
    inventory = kb.inventory()
    out: list[Candidate] = []
    for sent in sentences:
        ms = [m for m in mentions if sent[0] <= m.start and m.end <= sent[1]][:MAX_MENTIONS_PER_SENTENCE]
        stext = text[sent[0]:sent[1]]
        rels = [r for r in inventory if not needs_cue(r, trained) or _cued(r, stext)]
        n = 0
        for s in ms:
            for o in ms:
                if s is o or n >= MAX_PAIRS_PER_SENTENCE or (s.start < o.end and o.start < s.end):
                    continue
                if normalize(s.text) == normalize(o.text):  # a term repeated states nothing about itself
                    continue
                found = weak = None
                isa = isa_pattern(text, s, o)
                if isa:  # "X is a form of Y": read both mentions in one hierarchy if any reading allows
                    found = next(((si, oi, [r for r in rels if r.iri == IS_A])
                                  for si, _ in _options(s) for oi, _ in _options(o)
                                  if si != oi and kb.comparable(si, oi)), None)
                    if found and not found[2]:
                        found = None
                for si, _ in _options(s) if found is None else ():
                    for oi, _ in _options(o):
                        if si == oi:
                            continue
                        adm = [r for r in rels if kb.admissible(si, r, oi)
                               or (r.iri == IS_A and isa and kb.comparable(si, oi))]
                        # is_a needs a cue or a trained head; without one it is noise between siblings
                        adm = [r for r in adm if r.iri != IS_A or isa or IS_A in trained]
                        # A pair that admits only an uncued is_a is a weak reading: an alternative
                        # concept admitting a property (a disease name read as the phenotype of the
                        # same name) is preferred to it.
                        if adm and (isa or any(r.iri != IS_A for r in adm)):
                            found = (si, oi, adm)
                            break
                        if adm and weak is None:
                            weak = (si, oi, adm)
                    if found:
                        break
                found = found or weak
                if found:
                    si, oi, adm = found
                    alt = si != s.iri or oi != o.iri
                    others = tuple(m for m in ms if m is not s and m is not o)
                    out.append(Candidate(text, sent, s, o, si, oi, adm, isa, others, alt))
                    n += 1
    return out


def fill_standings(cands: Sequence[Candidate], kb: RelationKB) -> None:
    """Each candidate's standing for each admissible relation, read with the pair's polarity."""
    for c in cands:
        for r in c.relations:
            if r.iri not in c.standings:
                c.standings[r.iri] = kb.standing(c.subj_iri, r.iri, c.obj_iri, c.negated)


@dataclass
class Scored:
    """A scorer's decision about one candidate."""

    relation: RelationType | None  # None: no relation stated
    score: float
    negated: bool
    gate: float = 0.0
    neural: dict | None = None


class CooccurrenceScorer:
    """The fallback when no trained model is available: KG standing plus co-occurrence.

    A known triple scores 0.9, a conflicting one 0.6 (the text says it, the KG disagrees) and a
    novel co-occurrence 0.55 (0.45, under the default threshold, when a mention's alternative
    concept was needed); is_a only with a Hearst pattern (0.8, 0.95 if known). Among a
    pair's admissible relations the best-scoring one wins; ties go to the one with most facts.
    """

    name = UNTRAINED
    trained: frozenset[str] = frozenset()

    def score(self, cands: Sequence[Candidate]) -> list[Scored]:
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

    def score(self, cands: Sequence[Candidate]) -> list[Scored]:
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
    """A mention as a result's entity: its fields but the candidates (``asdict`` would copy them all)."""
    d = {f.name: getattr(m, f.name) for f in fields(m) if f.name != "candidates"}
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
        from kgnlu.tasks.linking import check_text

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

    def _relation(self, c: Candidate, s: Scored) -> Relation:
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
            score=round(float(s.score), 4), negated=bool(s.negated), status=st.status, rule=st.rule,
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


def _dedupe(rels: list[Relation]) -> list[Relation]:
    """One relation per (subject, predicate, object, polarity): the best-scoring statement of it."""
    best: dict[tuple, Relation] = {}
    for r in rels:
        k = (r.subject["iri"], r.predicate["iri"], r.object["iri"], r.negated)
        if k not in best or r.score > best[k].score:
            best[k] = r
    return sorted(best.values(), key=lambda r: (r.evidence["start"], r.subject["start"], r.object["start"]))


__all__ = ["Candidate", "CooccurrenceScorer", "KGLookupScorer", "RelationExtractor", "Scored", "candidates",
           "default_model_dir",
           "fill_standings", "isa_pattern", "load_extractor", "marked", "marked_all", "split_sentences", "UNTRAINED",
           "MARKERS", "MENTION_MARKERS"]
