"""Reading the WordNet 3.0 database files (Debian's ``wordnet-base``: ``/usr/share/wordnet``).

Only what the lexical KG needs: each synset's lemmas (in sense order of the index), its
hypernyms (``@``, and ``@i`` for instances), its antonyms (``!``, a lexical pointer between two
word senses, read here as between their synsets), and the morphological exception lists
(``noun.exc``: "men man"). The format is the one of ``wndb(5WN)``. And, for the linker's word
forms (``kg.rewrite``), the nouns an adjective is formed from (``derived_nouns``) and the
words of the language (``english_words``); for the drug source, the words running English uses in
no chemical sense (``everyday_words``, from the SemCor counts in ``cntlist.rev``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from .errors import InputError

POS = {"noun": "n", "verb": "v", "adj": "a", "adv": "r"}
DEFAULT_DIRS = ("/usr/share/wordnet", "/usr/local/share/wordnet", "/usr/share/wordnet/dict")
ENV_DIR = "KGNLU_WORDNET_DIR"


@dataclass
class Synset:
    id: str  # "02084071-n": offset and part of speech (satellite adjectives "s" read as "a")
    lemmas: list[str]
    hypernyms: list[str] = field(default_factory=list)
    instance_of: list[str] = field(default_factory=list)
    antonyms: list[str] = field(default_factory=list)
    gloss: str = ""


@dataclass
class WordNet:
    synsets: dict[str, Synset]
    senses: dict[tuple[str, str], list[str]]  # (lemma, pos) -> synset ids, most frequent sense first
    exceptions: dict[str, dict[str, list[str]]]  # pos -> inflected form -> base forms


def find_dir(explicit: str | os.PathLike | None = None) -> Path | None:
    """The WordNet database directory: ``explicit``, ``$KGNLU_WORDNET_DIR``, or a Debian default."""
    candidates = [explicit] if explicit else [os.environ.get(ENV_DIR), *DEFAULT_DIRS]
    for c in candidates:
        if c and (Path(c) / "data.noun").is_file():
            return Path(c)
    if explicit:
        raise InputError(f"{explicit}: no WordNet database there (expected data.noun, index.noun ...)")
    return None


def _sid(offset: str, pos: str) -> str:
    return f"{offset}-{'a' if pos == 's' else pos}"


def _lemma(word: str) -> str:
    if word.endswith(")") and "(" in word:  # adjective position markers: "galore(ip)"
        word = word[: word.index("(")]
    return word.replace("_", " ")


def _parse_data(line: str) -> Synset:
    head, _, gloss = line.partition(" | ")
    f = head.split()
    offset, pos = f[0], f[2]
    n = int(f[3], 16)
    words = [_lemma(f[4 + 2 * i]) for i in range(n)]
    at = 4 + 2 * n
    syn = Synset(_sid(offset, pos), words, gloss=gloss.strip())
    for i in range(int(f[at])):
        sym, target, tpos, st = f[at + 1 + 4 * i: at + 5 + 4 * i]
        tid = _sid(target, tpos)
        if sym == "@":
            syn.hypernyms.append(tid)
        elif sym == "@i":
            syn.instance_of.append(tid)
        elif sym == "!":
            syn.antonyms.append(tid)
    return syn


def derived_nouns(directory: str | os.PathLike) -> dict[str, list[str]]:
    """Each one-word adjective of WordNet and the nouns it is formed from or pertains to, read from
    the lexical pointers between word senses: derivation (``+``, "blind" and "blindness") and
    pertainym (``\\``, "febrile" and "fever"). Word to word, not synset to synset: "febrile" gives
    "fever", not its synonyms "pyrexia" or "febricity". Nouns sorted, adjectives lowercased."""
    links: list[tuple[str, int, int]] = []
    try:
        with open(Path(directory) / "data.adj", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("  "):
                    continue
                f = line.split(" | ", 1)[0].split()
                n = int(f[3], 16)
                words = [_lemma(f[4 + 2 * i]).lower() for i in range(n)]
                at = 4 + 2 * n
                for i in range(int(f[at])):
                    sym, target, tpos, st = f[at + 1 + 4 * i: at + 5 + 4 * i]
                    if sym in ("+", "\\") and tpos == "n" and st != "0000":  # 0000: between synsets
                        links.append((words[int(st[:2], 16) - 1], int(target), int(st[2:], 16)))
        out: dict[str, set[str]] = {}
        # A synset's offset is its line's byte offset in data.noun: read only the lines pointed to.
        with open(Path(directory) / "data.noun", "rb") as fh:
            for adjective, target, k in sorted(links, key=lambda link: link[1]):
                if " " not in adjective and "-" not in adjective:
                    fh.seek(target)
                    f = fh.readline().decode("utf-8").split()
                    out.setdefault(adjective, set()).add(_lemma(f[4 + 2 * (k - 1)]).lower())
    except (OSError, UnicodeDecodeError, IndexError, ValueError) as e:
        raise InputError(f"{directory}: not a readable WordNet database ({e})") from None
    kept = {a: sorted(n for n in ns if not _says_otherwise(a, n, out)) for a, ns in sorted(out.items())}
    return {a: ns for a, ns in kept.items() if ns}


def _says_otherwise(adjective: str, noun: str, links: dict[str, set[str]]) -> bool:
    """Whether ``adjective`` means the absence or the opposite of ``noun``, though WordNet links
    the two: "afebrile" (as "febrile" is: fever), "anticancer", "nontoxic", and "hyperthermal" to
    hypothermia. Read as the noun, "Patient is afebrile" would state a fever."""
    for prefix in ("anti", "non", "counter"):
        if adjective.startswith(prefix) and not noun.startswith(prefix):
            return True
    for prefix in ("an", "a", "un", "in", "im", "ir", "il", "dis"):
        if adjective.startswith(prefix) and noun in links.get(adjective[len(prefix):], ()):
            return True
    return any(adjective.startswith(a) and noun.startswith(b) for a, b in (("hyper", "hypo"), ("hypo", "hyper")))


def english_words(directory: str | os.PathLike) -> set[str]:
    """Every one-word lemma of WordNet (any part of speech, lowercased) and every irregular form of
    one in its exception lists ("taken", "men"): words of the language, which no typo correction
    should read as another word."""
    out: set[str] = set()
    root = Path(directory)
    try:
        for name in POS:
            with open(root / f"index.{name}", encoding="utf-8") as fh:
                out.update(f[0].lower() for line in fh if not line.startswith("  ") and (f := line.split(" ", 1)))
            exc = root / f"{name}.exc"
            if exc.is_file():
                out.update(line.split(" ", 1)[0].lower() for line in exc.read_text(encoding="utf-8").splitlines()
                           if line.strip())
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"{directory}: not a readable WordNet database ({e})") from None
    return {w for w in out if w.isalpha()}


# Senses under these are chemicals or drugs ("ecstasy" and "indicator" have one, "sit" and "cap" none).
_CHEMICAL_ROOTS = (("substance", 1), ("chemical compound", 1), ("chemical", 1), ("drug", 1), ("medicine", 1),
                   ("causal agent", 1))


def everyday_words(directory: str | os.PathLike, min_count: int = 3) -> set[str]:
    """One-word lemmas that running English uses at least ``min_count`` times (SemCor's tag counts,
    ``cntlist.rev``) and none of whose senses, in any part of speech, is a chemical or drug, with
    their regular and irregular inflections ("sit", "sits"; "cap", "caps"). Empty when the database
    has no ``cntlist.rev``."""
    root = Path(directory)
    if not (root / "cntlist.rev").is_file():
        return set()
    wn = read(root)
    counts: dict[str, int] = {}
    try:
        for line in (root / "cntlist.rev").read_text(encoding="utf-8").splitlines():
            f = line.split()
            if len(f) == 3 and "%" in f[0]:
                lemma = f[0].split("%", 1)[0]
                if lemma.isalpha():
                    counts[lemma] = counts.get(lemma, 0) + int(f[2])
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise InputError(f"{directory}: not a readable WordNet database (cntlist.rev: {e})") from None
    roots = {sid for word, k in _CHEMICAL_ROOTS for sid in wn.senses.get((word, "n"), [])[:k]}
    chemical: dict[str, bool] = {}

    def is_chemical(sid: str) -> bool:
        if sid not in chemical:
            chemical[sid] = False  # a cycle reads as not chemical
            s = wn.synsets[sid]
            chemical[sid] = sid in roots or any(map(is_chemical, s.hypernyms + s.instance_of))
        return chemical[sid]

    out: set[str] = set()
    for lemma, n in counts.items():
        if n >= min_count and not any(is_chemical(sid) for pos in POS.values()
                                      for sid in wn.senses.get((lemma, pos), ())):
            out.add(lemma)
            out.update(_inflections(lemma))
    for exc in wn.exceptions.values():
        out.update(form for form, bases in exc.items() if form.isalpha() and any(b in out for b in bases))
    return out


def _inflections(word: str) -> list[str]:
    """A word's regular -s, -ed and -ing forms (over-generated: they only screen a drug's names)."""
    s = word[:-1] + "ies" if word.endswith("y") and word[-2:-1] not in "aeiou" else \
        word + "es" if word.endswith(("s", "x", "z", "ch", "sh")) else word + "s"
    stem = word[:-1] if word.endswith("e") else word
    return [s, stem + "ed", stem + "ing"]


def read(directory: str | os.PathLike) -> WordNet:
    root = Path(directory)
    synsets: dict[str, Synset] = {}
    senses: dict[tuple[str, str], list[str]] = {}
    exceptions: dict[str, dict[str, list[str]]] = {}
    for name, pos in POS.items():
        try:
            with open(root / f"data.{name}", encoding="utf-8") as fh:
                for line in fh:
                    if not line.startswith("  "):  # the licence header lines start with two spaces
                        s = _parse_data(line)
                        synsets[s.id] = s
            with open(root / f"index.{name}", encoding="utf-8") as fh:
                for line in fh:
                    if line.startswith("  "):
                        continue
                    f = line.split()
                    n_senses = int(f[2])
                    senses[(f[0].replace("_", " "), pos)] = [_sid(o, pos) for o in f[len(f) - n_senses:]]
            exc: dict[str, list[str]] = {}
            exc_path = root / f"{name}.exc"
            if exc_path.is_file():
                for line in exc_path.read_text(encoding="utf-8").splitlines():
                    f = line.split()
                    if len(f) >= 2:
                        exc[f[0].replace("_", " ")] = [b.replace("_", " ") for b in f[1:]]
            exceptions[pos] = exc
        except (OSError, UnicodeDecodeError, IndexError, ValueError) as e:
            raise InputError(f"{root}: not a readable WordNet database ({name}: {e})") from None
    return WordNet(synsets, senses, exceptions)
