"""Exact lexicon matching: leftmost-longest, non-overlapping matches of labels and synonyms.

Text and lexicon entries go through one normaliser, so that a match is an exact equality of
normalised token sequences:

- tokens are runs of letters and digits (decimal numbers stay whole); hyphens, slashes and
  underscores separate tokens, so "non-small-cell" == "non small cell";
- casefold, strip accents (NFKD), drop a possessive "'s" ("Crohn's disease" == "Crohn disease");
- singularise with a conservative rule set plus an exceptions list ("seizures" -> "seizure",
  "abnormalities" -> "abnormality", but "diabetes", "virus", "analysis" stay);
- punctuation is not a token. In the *text* the sentence and clause marks (. , ; : ! ? brackets,
  quotes, a blank line) are hard breaks that no match may cross: "fever, seizures" must not
  match an entry "fever seizures". Entries ignore them ("Seizures, febrile" -> "seizure febrile").
  An entry ending in a parenthesised qualifier is indexed with and without it ("Hemiplegia
  (left)"), unless it is a related synonym: there the brackets often hold the meaning, and the
  word before them alone names something else (MONDO's "blood (leukemia)" linked every "blood").

Short all-caps entries ("ADHD", "MI", "ALL") are abbreviations and match only the same
upper-case token in the text, or "all" and "ms" would link to leukaemia and sclerosis; and not
as the first part of a hyphenated name whose next part is capitalised or a number ("SARS-CoV-2"
is a virus, not SARS; "IL-6" is no "IL"), though "HIV-positive" is HIV's. So are
short single words with a capital after the first letter ("chILD", "mRNA"): lower-cased and
singularised, MONDO's "chILD" (childhood interstitial lung disease) took every "children".

The index is a hash map from the normalised form (tokens joined by spaces) to its candidates,
plus, for each first token, the token lengths of the forms that start with it. A lookup at a
text position tries those lengths longest first, so the work per token is a handful of dict
probes, whatever the size of the lexicon; a pointer trie would do the same walk with tens of
bytes per node more, which matters at a few hundred thousand entries.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass
from itertools import compress, count
from pathlib import Path
from typing import Callable, Iterable

from .lexicon import KIND_RANK, Entry

FORMAT = "kgnlu.lexicon-matcher"
# Bump when normalisation changes: a saved matcher built with other rules would silently miss.
VERSION = 3
MAX_ABBREVIATION = 6  # characters

# A word: a decimal number, or a run of letters/digits (combining accents included) with inner
# apostrophes. Hard breaks are the clause marks and blank lines. Whatever else (spaces, hyphens,
# slashes, underscores, other symbols) only separates words. The possessive quantifiers match
# what greedy ones would (nothing follows that could need a character back) with less bookkeeping.
WORD_PATTERN = (r"\d+(?:[.,]\d+)++|[^\W_]++(?:[\u0300-\u036f]++[^\W_]*+)*+"
                r"(?:['’][^\W_]++(?:[\u0300-\u036f]++[^\W_]*+)*+)*+")
WORDS = re.compile(WORD_PATTERN)
_BREAK = r"[.,;:!?()\[\]{}\"“”<>|]|\n\s*\n"
_TOKEN = re.compile(f"({WORD_PATTERN})|{_BREAK}")
# split() by one group around words and breaks alike gives separator, token, separator, ..., token,
# separator: the tokens without a match object each, and their offsets from the lengths.
_PIECES = re.compile(f"({WORD_PATTERN}|{_BREAK})")
_ABBREVIATION = re.compile(r"[A-Z0-9]{1,5}")
_ALPHA = re.compile(r"[^\W\d_]").search


def _name_part(token: str) -> bool:
    """A capital or a digit first: "CoV", "2", not "positive"."""
    return token[:1].isupper() or token[:1].isdigit()


# A trailing qualifier such as "(finding)" or "(within the age range of 3 months to 6 years)"
# never occurs in running text; the entry is also indexed without it.
_QUALIFIER = re.compile(r"\s*\([^()]*\)$")

STOPWORDS = frozenset(
    """a an the of in on at to for with and or nor not no is was are were be been being by as it
    its this that these those he she his her him they them their we our you your i me my from
    into onto over under up down out off about above below after before between through during
    all any some each few more most other such only own same so than too very can will just do
    does did has have had if then there here when where why how what which who whom per via
    also both but may might must shall should would could""".split()
)

_INVARIANT = frozenset(
    """diabetes herpes rabies scabies measles mumps rickets shingles hives ascites caries series
    species news lens pancreas atlas bias biceps triceps quadriceps forceps menses feces faeces
    nares pubes always perhaps whereas does thus plus gas vas alias debris kudos chaos""".split()
)

_IRREGULAR = {
    "children": "child", "women": "woman", "men": "man", "feet": "foot", "teeth": "tooth",
    "mice": "mouse", "lice": "louse", "geese": "goose", "testes": "testis",
    "viruses": "virus", "sinuses": "sinus", "fetuses": "fetus", "foetuses": "foetus",
    "uteruses": "uterus", "metastases": "metastasis", "analyses": "analysis",
    "appendices": "appendix", "indices": "index", "vertices": "vertex", "matrices": "matrix",
    "cervices": "cervix", "apices": "apex", "bacteria": "bacterium", "diverticula": "diverticulum",
    "atria": "atrium", "septa": "septum", "labia": "labium", "ova": "ovum", "foramina": "foramen",
    "lumina": "lumen", "ganglia": "ganglion", "criteria": "criterion", "phenomena": "phenomenon",
    "bronchi": "bronchus", "nevi": "nevus", "naevi": "naevus", "thrombi": "thrombus",
    "emboli": "embolus", "calculi": "calculus", "fungi": "fungus", "nuclei": "nucleus",
    "alveoli": "alveolus", "bacilli": "bacillus", "foci": "focus", "glomeruli": "glomerulus",
    "stimuli": "stimulus", "villi": "villus", "loci": "locus", "radii": "radius",
}


def singularize(word: str) -> str:
    """Conservative English singular of a casefolded token; unknown shapes are left alone.

    A wrong singular is harmless when both sides get it ("diseases" -> "disease" either way);
    what must not happen is two different words colliding, hence the length floor and the
    "ss"/"us"/"is" guard (class, virus, analysis)."""
    if len(word) <= 3 or not word.isalpha():
        return word
    irregular = _IRREGULAR.get(word)
    if irregular:
        return irregular
    if word in _INVARIANT or word.endswith(("ss", "us", "is")):
        return word
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"  # abnormalities, allergies, arteries
    if word.endswith("oses") and len(word) >= 7 and not word.endswith("doses"):
        return word[:-2] + "is"  # stenoses, diagnoses, thromboses
    if word.endswith("aches"):
        return word[:-1]  # headaches
    if word.endswith(("xes", "ches", "shes", "sses", "zzes")):
        return word[:-2]  # complexes, patches, rashes, abscesses
    if word.endswith("ae") and len(word) > 5:
        return word[:-1]  # vertebrae, bullae, sequelae
    if word.endswith("s"):
        return word[:-1]
    return word


def normalize_token(raw: str) -> str:
    """One token of text or lexicon, as the index sees it."""
    t = raw.casefold()
    if not t.isascii():
        t = "".join(c for c in unicodedata.normalize("NFKD", t) if not unicodedata.combining(c))
        t = t.replace("’", "'")
    if t.endswith("'s"):
        t = t[:-2]
    if "'" in t:
        t = t.replace("'", "")
    return singularize(t)


@dataclass(frozen=True)
class Token:
    start: int
    end: int
    raw: str
    norm: str
    segment: int  # tokens in different segments are separated by a hard break


def _scan(text: str) -> tuple[list[int], list[int], list[str], list[int]]:
    """Parallel lists (starts, ends, raw words, segments): no per-token objects on the hot path."""
    starts: list[int] = []
    ends: list[int] = []
    raws: list[str] = []
    segments: list[int] = []
    segment = 0
    for m in _TOKEN.finditer(text):
        raw = m.group(1)
        if raw is None:
            segment += 1
        else:
            starts.append(m.start())
            ends.append(m.end())
            raws.append(raw)
            segments.append(segment)
    return starts, ends, raws, segments


def _words(text: str) -> list[str]:
    """The raw words of a lexicon entry, as ``_scan`` would cut them (breaks ignored)."""
    if text.isascii() and text.replace(" ", "").isalnum():
        return text.split()  # most labels: same cut as the regex, at C speed
    return WORDS.findall(text)


def tokenize(text: str) -> list[Token]:
    """Word tokens of ``text`` with offsets into it and their normal forms."""
    starts, ends, raws, segments = _scan(text)
    return [Token(s, e, r, normalize_token(r), g) for s, e, r, g in zip(starts, ends, raws, segments)]


def normalize(text: str) -> str:
    """The normal form of a whole phrase: normalised tokens joined by single spaces."""
    return " ".join(map(normalize_token, _words(text)))


def is_abbreviation(text: str) -> bool:
    """Short all-caps or mixed-case entries are matched case-sensitively (see the module docstring)."""
    if not any(c.isalpha() for c in text):
        return False
    mixed = len(text) <= MAX_ABBREVIATION and text.isalnum() and any(c.isupper() for c in text[1:])
    return mixed or bool(_ABBREVIATION.fullmatch(text))


FormEntry = tuple[str, str, str]  # (iri, kind, entry text)


@dataclass(frozen=True)
class Match:
    start: int
    end: int
    text: str  # text[start:end] of the matched input
    candidates: tuple[FormEntry, ...]  # best kind first, then by IRI


def _rank(c: FormEntry) -> tuple:
    return (KIND_RANK.get(c[1], len(KIND_RANK)), c[0], c[2])


def _english(lang: str | None) -> bool:
    return lang is None or lang.lower().startswith("en")


class LexiconMatcher:
    """Leftmost-longest exact matcher over normalised lexicon forms.

    Candidates are stored in columns (IRI index, kind index, entry text) grouped per form, so
    that a saved matcher loads as a few flat JSON lists and tuples are only made for matches.

    >>> m = LexiconMatcher.from_entries([Entry("ex:fs", "Febrile seizure", "label", None, "ex")])
    >>> [(x.text, x.candidates[0][0]) for x in m.find("two febrile seizures")]
    [('febrile seizures', 'ex:fs')]
    """

    # Raw tokens normalised, candidates of a form: per matcher, cleared past this (caches, not state).
    _CACHE_LIMIT = 200_000

    def __init__(self, forms: list[str], abbreviations: list[str], offsets: list[int],
                 iri: list[int], kind: list[int], text: list[str], iris: list[str], kinds: list[str]):
        """Group ``g`` is ``forms[g]`` for g < len(forms), then ``abbreviations``; its candidates
        are rows ``offsets[g]:offsets[g + 1]`` of the columns ``iri``, ``kind`` and ``text``."""
        if len(offsets) != len(forms) + len(abbreviations) + 1 or not len(iri) == len(kind) == len(text) == offsets[-1]:
            raise ValueError("inconsistent matcher columns")
        self._group = dict(zip(forms, range(len(forms))))
        self._abbreviations = dict(zip(abbreviations, range(len(forms), len(forms) + len(abbreviations))))
        self._offsets, self._iri, self._kind, self._text = offsets, iri, kind, text
        self._iris, self._kinds = iris, kinds
        lengths: dict[str, set[int]] = {}
        for form in forms:
            first, _, _ = form.partition(" ")
            lengths.setdefault(first, set()).add(form.count(" ") + 1)
        self._lengths = {k: tuple(sorted(v, reverse=True)) for k, v in lengths.items()}
        self._norm_cache: dict[str, str] = {}
        self._candidate_cache: dict[int, tuple[FormEntry, ...]] = {}

    @property
    def vocabulary(self) -> frozenset[str]:
        """Every normalised word of the lexicon's forms: a span with none of them cannot link."""
        vocab = self.__dict__.get("_vocabulary")
        if vocab is None:
            vocab = self.__dict__["_vocabulary"] = frozenset(w for form in self._group for w in form.split(" "))
        return vocab

    # -- construction ---------------------------------------------------------------------------

    @classmethod
    def from_entries(cls, entries: Iterable[Entry]) -> "LexiconMatcher":
        forms: dict[str, set[FormEntry]] = {}
        abbreviations: dict[str, set[FormEntry]] = {}
        cache: dict[str, str] = {}
        for e in entries:
            if not _english(e.lang):
                continue
            cand = (e.iri, e.kind, e.text)
            text = e.text.strip()
            qualified = text.endswith(")") and e.kind != "related"
            for variant in (text, _QUALIFIER.sub("", text)) if qualified else (text,):
                if len(variant) <= MAX_ABBREVIATION and is_abbreviation(variant):
                    if len(variant) > 1:
                        abbreviations.setdefault(variant, set()).add(cand)
                    continue
                tokens = []
                for w in _words(variant):
                    n = cache.get(w)
                    if n is None:
                        n = cache[w] = normalize_token(w)
                    tokens.append(n)
                form = " ".join(tokens)
                if len(tokens) == 1 and (len(form) <= 1 or form in STOPWORDS) or not (form[:1].isalpha() or _ALPHA(form)):
                    continue  # "the", "x", "21": too generic to be a mention on their own
                forms.setdefault(form, set()).add(cand)

        iris: dict[str, int] = {}
        kinds: dict[str, int] = {}
        offsets, iri, kind, text_col = [0], [], [], []
        # Sorted forms: the same entries in any order give the same index and the same file.
        form_list, abbreviation_list = sorted(forms), sorted(abbreviations)
        for table, keys in ((forms, form_list), (abbreviations, abbreviation_list)):
            for key in keys:
                for i, k, t in sorted(table[key], key=_rank):
                    iri.append(iris.setdefault(i, len(iris)))
                    kind.append(kinds.setdefault(k, len(kinds)))
                    text_col.append(t)
                offsets.append(len(iri))
        return cls(form_list, abbreviation_list, offsets, iri, kind, text_col, list(iris), list(kinds))

    # -- matching -------------------------------------------------------------------------------

    def _candidates(self, group: int) -> tuple[FormEntry, ...]:
        cands = self._candidate_cache.get(group)
        if cands is None:
            if len(self._candidate_cache) > self._CACHE_LIMIT:
                self._candidate_cache.clear()
            iris, kinds, iri, kind, text = self._iris, self._kinds, self._iri, self._kind, self._text
            cands = self._candidate_cache[group] = tuple(
                (iris[iri[j]], kinds[kind[j]], text[j]) for j in range(self._offsets[group], self._offsets[group + 1]))
        return cands

    def find(self, text: str, keep: Callable[[tuple[FormEntry, ...]], bool] | None = None) -> list[Match]:
        """Leftmost-longest, non-overlapping matches in ``text``, in order.

        ``keep``: a form whose candidates it rejects is passed over, so a shorter form at the same
        position (or a match further on) can be taken: restricting linking to some branches of
        the KG must not lose "schwannoma" to an out-of-branch "vestibular schwannoma".
        """
        # Breaks stay among the tokens: no word of any script normalises to punctuation or newlines,
        # so no form holds a break and a match cannot run across one. Only matches need offsets:
        # they are summed from the lengths of the pieces.
        pieces = _PIECES.split(text)
        raws = pieces[1::2]
        n = len(raws)
        cache = self._norm_cache
        if len(cache) > self._CACHE_LIMIT:
            cache.clear()
        norms = list(map(cache.get, raws))
        if None in norms:
            for k, r in enumerate(raws):
                if norms[k] is None:
                    norms[k] = cache[r] = normalize_token(r)
        group, abbreviations = self._group, self._abbreviations
        tries = list(map(self._lengths.get, norms))  # the lengths to try at each token: None at most
        if abbreviations.keys().isdisjoint(raws):
            abbrs, positions = None, compress(count(), tries)
        else:
            abbrs = list(map(abbreviations.get, raws))
            positions = (i for i in range(n) if tries[i] or abbrs[i] is not None)
        candidates = self._candidates
        at = consumed = 0  # pieces[:consumed] span text[:at]
        out: list[Match] = []
        done = 0  # the tokens before it are in a match already
        for i in positions:
            if i < done:
                continue
            size, found = 0, None
            for length in tries[i] or ():
                if length == 1:
                    found = group.get(norms[i])
                elif i + length <= n:
                    found = group.get(" ".join(norms[i:i + length]))
                else:
                    continue
                if found is not None and (keep is None or keep(candidates(found))):
                    size = length
                    break
                found = None
            abbr = abbrs[i] if size <= 1 and abbrs else None
            if abbr is not None and i + 1 < n and pieces[2 * i + 2] == "-" and _name_part(raws[i + 1]):
                abbr = None  # "SARS-CoV-2", "IL-6": the hyphenated whole is another name
            if abbr is not None and keep is not None and not keep(candidates(abbr)):
                abbr = None
            if size or abbr is not None:
                size = size or 1
                cands = candidates(found) if found is not None else ()
                if abbr is not None:
                    cands = tuple(sorted(set(cands) | set(candidates(abbr)), key=_rank))
                done = i + size
                start = at + sum(map(len, pieces[consumed:2 * i + 1]))
                at, consumed = start + sum(map(len, pieces[2 * i + 1:2 * done])), 2 * done
                out.append(Match(start, at, text[start:at], cands))
        return out

    def __len__(self) -> int:
        """Distinct normal forms (abbreviations included) the matcher can find."""
        return len(self._group) + len(self._abbreviations)

    # -- persistence ----------------------------------------------------------------------------

    def get_config(self) -> dict:
        return {"format": FORMAT, "version": VERSION, "forms": len(self._group), "abbreviations": len(self._abbreviations),
                "candidates": len(self._text)}

    def save(self, path: str | Path) -> None:
        """Write the columns as one JSON object (no pickle: the file is data, not code)."""
        doc = {**self.get_config(), "form_list": list(self._group), "abbreviation_list": list(self._abbreviations),
               "offsets": self._offsets, "iri": self._iri, "kind": self._kind, "text": self._text,
               "iris": self._iris, "kinds": self._kinds}
        Path(path).write_text(json.dumps(doc, ensure_ascii=False, separators=(",", ":")), encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path) -> "LexiconMatcher":
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
        if not isinstance(doc, dict) or doc.get("format") != FORMAT or doc.get("version") != VERSION:
            raise ValueError(f"{path}: not a {FORMAT} v{VERSION} file; rebuild it from the lexicon")
        return cls(doc["form_list"], doc["abbreviation_list"], doc["offsets"], doc["iri"], doc["kind"], doc["text"],
                   doc["iris"], doc["kinds"])


__all__ = [
    "FormEntry", "LexiconMatcher", "Match", "Token", "STOPWORDS", "is_abbreviation", "normalize",
    "normalize_token", "singularize", "tokenize",
]
