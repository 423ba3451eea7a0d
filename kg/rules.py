"""The symbolic NLI rule layer: natural-logic inference over the closure tables, with proofs.

Each side of a pair is reduced to *assertions*: a KG concept the text mentions, with a polarity
(``+X``: the text says X holds; ``-X``: the text says X does not hold). The rules compare every
hypothesis assertion with the premise's, using only lookups in ``kg.tables.ClosureTables``:

=================  ====================  =====================================================
rule               premise, hypothesis   condition
=================  ====================  =====================================================
``syn-eq``         +X ⊢ +Y, -X ⊢ -Y       X ≡ Y (same concept, a synonym, or equivalent classes)
``mono-up``        +X ⊢ +Y                X ⊑ Y (upward monotone)
``mono-down-neg``  -Y ⊢ -X                X ⊑ Y (downward monotone under negation)
``disjoint-neg``   +X ⊢ -Y                X and Y are disjoint (what is an X is no Y)
``clash-neg``      +X ⟂ -Y, -Y ⟂ +X       X ⊑ Y (a thing and the denial of what it implies)
``clash-disjoint`` +X ⟂ +Y                X and Y are disjoint (inherited down the hierarchy)
=================  ====================  =====================================================

The verdict is **contradiction** if some hypothesis assertion clashes with the premise (and no
premise assertion states it: a premise with two disjoint findings, "hypokalemia and later
hyperkalemia", speaks of two times or places), **entailment** if every hypothesis assertion
follows from it, and **unknown** otherwise; the undecided hypothesis assertions are listed.
When the words of a mention name several concepts exactly as well (``Assertion.readings``: the
disease and the phenotype "diabetes mellitus"), an entailment or a ``clash-neg`` may go through
any of them, and the proof names the one it used. A ``clash-disjoint`` or ``disjoint-neg`` needs
the linked concepts themselves, and an ambiguous assertion that some reading supports clashes with
nothing either: two readings of one name are no contradiction. Assertions about different people
(``experiencer``: "My father has X" is the father's) never entail or clash with each other. An
individual counts as an instance of its types. Nothing here calls a reasoner: answering is table
lookups only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from .tables import ClosureTables, Step
from .words import WordRelations

ENTAILMENT, CONTRADICTION, UNKNOWN = "entailment", "contradiction", "unknown"
VERDICTS = (ENTAILMENT, CONTRADICTION, UNKNOWN)
RULES = ("syn-eq", "mono-up", "mono-down-neg", "clash-neg", "clash-disjoint", "disjoint-neg")
MENTIONS, DENIES = "kgnlu:mentions", "kgnlu:denies"
_SHORT = {"rdfs:subClassOf": "⊑", "owl:equivalentClass": "≡", "owl:disjointWith": "⊓⊥", "rdf:type": "∈"}


@dataclass(frozen=True)
class Assertion:
    """A concept a text mentions, with its polarity and the span it rests on."""

    iri: str
    negated: bool
    side: str  # "premise" | "hypothesis"
    text: str
    start: int
    end: int
    # Other concepts the same words name exactly as well: MONDO's disease and HPO's phenotype
    # "diabetes mellitus". Entailment and clash-neg may go through any reading, clash-disjoint
    # only through ``iri`` (see ``RuleEngine.decide``).
    readings: tuple[str, ...] = ()
    experiencer: str | None = None  # a relative whose condition it is ("father"); None: the patient

    def sign(self) -> str:
        return "-" if self.negated else "+"

    def span_step(self) -> dict:
        return {"subject": f"{self.side}[{self.start}:{self.end}]", "predicate": DENIES if self.negated else MENTIONS,
                "object": self.iri, "source": "text",
                "span": {"side": self.side, "start": self.start, "end": self.end, "text": self.text}}


@dataclass(frozen=True)
class Proof:
    """Why one hypothesis assertion follows from, or clashes with, one premise assertion."""

    rule: str
    premise: Assertion
    hypothesis: Assertion
    axioms: tuple[Step, ...]
    conclusion: str  # ENTAILMENT | CONTRADICTION

    def steps(self) -> list[dict]:
        """The proof as contract steps: premise span, the axiom chain, hypothesis span."""
        return [self.premise.span_step(), *(s.as_dict() for s in self.axioms), self.hypothesis.span_step()]

    def render(self, label=lambda iri: iri) -> str:
        """E.g. ``focal seizure ⊑ seizure (HPO) ⇒ premise +focal seizure entails hypothesis +seizure``."""
        chain = ", ".join(_render_step(s, label) for s in self.axioms)
        verb = "entails" if self.conclusion == ENTAILMENT else "contradicts"
        head = f"{chain} ⇒ " if chain else ""
        p, h = self.premise, self.hypothesis
        return (f"{head}premise {p.sign()}{p.text} {verb} hypothesis {h.sign()}{h.text}  [{self.rule}]")


def _render_step(s: Step, label) -> str:
    subject = label(s.subject) or s.subject
    obj = label(s.object) or s.object
    pred = s.predicate
    if pred.startswith("^"):  # an inverse step, read from the object's side
        subject, obj, pred = obj, subject, pred[1:]
    return f"{subject} {_SHORT.get(pred, pred)} {obj} ({s.cited()})"


@dataclass
class Verdict:
    label: str  # ENTAILMENT | CONTRADICTION | UNKNOWN
    proofs: list[Proof] = field(default_factory=list)
    undecided: list[Assertion] = field(default_factory=list)
    decided: float = 0.0  # share of hypothesis assertions that a proof decides
    # Set by the alignment guard (``kgnlu.tasks.nli_align``) when it blocked the rules' verdict: the
    # hypothesis words nothing accounts for, and the modal cues one side lacks. The proofs stay.
    unaccounted: list[str] = field(default_factory=list)
    # The natural-logic rules' edit sequence (``kgnlu.tasks.natlog.Edit``), when they gave the verdict.
    edits: list = field(default_factory=list)

    @property
    def proof_length(self) -> int:
        return max((len(p.axioms) for p in self.proofs), default=0)

    def to_dict(self) -> dict:
        return {"verdict": self.label, "proofs": [p.steps() for p in self.proofs],
                "rules": [p.rule for p in self.proofs],
                "undecided": [{"iri": a.iri, "text": a.text, "negated": a.negated} for a in self.undecided]
                + [{"iri": "", "text": w, "negated": False} for w in self.unaccounted],  # a word, not a concept
                "decided": self.decided}


class RuleEngine:
    """Applies the rules over one KG's closure tables; ``words`` relates words through the KG's
    lexical source for the natural-logic rules (``kgnlu.tasks.natlog``; None: no lexical source, only
    equal words relate)."""

    def __init__(self, tables: ClosureTables, words: WordRelations | None = None):
        self.tables = tables
        self.words = words if words is not None else WordRelations(tables, None)

    def label(self, iri: str) -> str | None:
        return self.tables.label(iri)

    def is_a(self, x: str, y: str) -> tuple[Step, ...] | None:
        """A proof that X ⊑ Y (or that individual X is a Y); ``()`` when X is Y, None when not."""
        t = self.tables
        if x == y:
            return ()
        if t.is_subclass(x, y):
            return tuple(t.chain(x, y))
        for cls in t.types(x):
            if cls == y or t.is_subclass(cls, y):
                return (Step(x, "rdf:type", cls, t.type_source(x, cls)), *t.chain(cls, y))
        return None

    def disjoint(self, x: str, y: str) -> tuple[Step, ...] | None:
        t = self.tables
        for a in [x, *t.types(x)]:
            for b in [y, *t.types(y)]:
                proof = t.disjoint(a, b)
                if proof is not None:
                    pre = () if a == x else (Step(x, "rdf:type", a, t.type_source(x, a)),)
                    post = () if b == y else (Step(b, "^rdf:type", y, t.type_source(y, b)),)
                    return (*pre, *proof, *post)
        return None

    def entails(self, p: Assertion, h: Assertion) -> Proof | None:
        if p.experiencer != h.experiencer:
            return None
        if not p.negated and h.negated:  # +X ⊢ -Y when X and Y are disjoint (natural logic: | then ^ is ⊏)
            proof = self.disjoint(p.iri, h.iri)
            return None if proof is None else Proof("disjoint-neg", p, h, proof, ENTAILMENT)
        if p.negated != h.negated:
            return None
        if not p.negated:
            fwd = self.is_a(p.iri, h.iri)
            if fwd is None:
                return None
            back = self.is_a(h.iri, p.iri) if fwd else ()
            rule = "syn-eq" if back is not None else "mono-up"
            return Proof(rule, p, h, fwd, ENTAILMENT)
        # -Y ⊢ -X needs X ⊑ Y: the hypothesis denies something more specific than the premise does.
        down = self.is_a(h.iri, p.iri)
        if down is None:
            return None
        back = self.is_a(p.iri, h.iri) if down else ()
        rule = "syn-eq" if back is not None else "mono-down-neg"
        return Proof(rule, p, h, down, ENTAILMENT)

    def clashes(self, p: Assertion, h: Assertion) -> Proof | None:
        if p.experiencer != h.experiencer:  # the father's condition says nothing of the patient's
            return None
        if not p.negated and h.negated:  # +X ⟂ -Y when X ⊑ Y
            chain = self.is_a(p.iri, h.iri)
            return None if chain is None else Proof("clash-neg", p, h, chain, CONTRADICTION)
        if p.negated and not h.negated:  # -Y ⟂ +X when X ⊑ Y
            chain = self.is_a(h.iri, p.iri)
            return None if chain is None else Proof("clash-neg", p, h, chain, CONTRADICTION)
        if not p.negated and not h.negated:
            proof = self.disjoint(p.iri, h.iri)
            return None if proof is None else Proof("clash-disjoint", p, h, proof, CONTRADICTION)
        return None  # -X and -Y never clash

    def decide(self, premise: Sequence[Assertion], hypothesis: Sequence[Assertion]) -> Verdict:
        """The verdict for one pair. With no hypothesis assertion, nothing is decided."""
        if not premise or not hypothesis:
            return Verdict(UNKNOWN, undecided=list(hypothesis))
        premise_readings = [r for p in premise for r in _readings(p)]
        support: dict[Assertion, Proof] = {}
        for h in hypothesis:
            # Disjointness between two ontologies' namesakes is an artefact: it needs the linked concepts.
            proofs = [e for hr in _readings(h) for p in premise_readings if (e := self.entails(p, hr)) is not None
                      and (e.rule != "disjoint-neg" or (hr is h and any(p is q for q in premise)))]
            if proofs:
                support[h] = min(proofs, key=_proof_key)
        clashes: dict[Assertion, Proof] = {}
        for h in hypothesis:
            # What the premise states does not clash through another of its assertions: a premise
            # with two disjoint findings speaks of two times or places ("hypokalemia and later
            # hyperkalemia"), and an ambiguous name some reading supports does not clash through another.
            if h in support:
                continue
            # A name's readings are one condition, so denying it denies each; but disjointness
            # between two ontologies' namesakes would be an artefact, so it needs the linked concepts.
            found = [c for hr in _readings(h) for p in premise for pr in _readings(p)
                     if (c := self.clashes(pr, hr)) is not None
                     and (c.rule != "clash-disjoint" or (pr is p and hr is h))]
            if found:
                clashes[h] = min(found, key=_proof_key)
        if clashes:
            return Verdict(CONTRADICTION, proofs=list(clashes.values()), decided=len(clashes) / len(hypothesis))
        undecided = [h for h in hypothesis if h not in support]
        decided = len(support) / len(hypothesis)
        if undecided:
            return Verdict(UNKNOWN, proofs=list(support.values()), undecided=undecided, decided=decided)
        return Verdict(ENTAILMENT, proofs=list(support.values()), decided=decided)

    def explain(self, verdict: Verdict) -> list[str]:
        """Readable proofs, one line each, for ``kgnlu infer --explain``."""
        lines = [p.render(self.label) for p in verdict.proofs]
        for a in verdict.undecided:
            lines.append(f"undecided: hypothesis {a.sign()}{a.text} follows from no premise assertion")
        if verdict.unaccounted:
            # Hypothesis words that neither the premise nor a proof accounts for, or the context
            # (a modal, a question, an edit natural logic cannot project) that stops a verdict.
            lines.append("undecided, blocked by: " + ", ".join(repr(w) for w in verdict.unaccounted))
        return lines


def _readings(a: Assertion) -> list[Assertion]:
    return [a, *(replace(a, iri=iri, readings=()) for iri in a.readings if iri != a.iri)]


def _proof_key(p: Proof) -> tuple:
    return (len(p.axioms), RULES.index(p.rule), p.premise.start)


