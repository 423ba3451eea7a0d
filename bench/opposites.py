"""Opposite HPO phenotypes (``kg.sources.opposites``): what the derivation finds, and a seeded sample
to judge by hand, beside the naive derivation it replaces (any WordNet antonym swapped in a name).

    python bench/opposites.py [--sample 50] [--seed 12345] [--out bench/results/opposites_run.md]

The precision figure in ``bench/results/opposites.md`` is a person's reading of the sample printed
here: the script cannot judge whether two phenotypes can hold at once.
"""

from __future__ import annotations

import argparse
import random
import time
from collections import Counter
from pathlib import Path

from kgnlu.kg.sources import opposites
from kgnlu.kg.sources.mondo import cellxgene_file, load
from kgnlu.kg.wordnet import find_dir, read


def naive_pairs(terms, wn) -> Counter:
    """The word pairs of the naive derivation: two HPO names that differ in one word, the two words
    WordNet antonyms (adjectives), anywhere in the name."""
    antonyms = set()
    for s in wn.synsets.values():
        if s.id.endswith("-a"):
            for a in s.antonyms:
                if a in wn.synsets:
                    antonyms.update((x.lower(), y.lower()) for x in s.lemmas for y in wn.synsets[a].lemmas)
    slots: dict[tuple, list] = {}
    for t in terms.values():
        for name in t.names:
            ws = opposites.words(name)
            for i, w in enumerate(ws):
                slots.setdefault((ws[:i], ws[i + 1:]), []).append((t.id, w))
    found: dict[tuple[str, str], tuple[str, str]] = {}
    for items in slots.values():
        for a, wa in items:
            for b, wb in items:
                if a < b and (wa, wb) in antonyms:
                    found.setdefault((a, b), tuple(sorted((wa, wb))))
    return Counter(found.values())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sample", type=int, default=50)
    ap.add_argument("--seed", type=int, default=12345)
    ap.add_argument("--out", default=None, help="write the report here as well as to stdout")
    args = ap.parse_args()
    t0 = time.perf_counter()
    pairs = opposites.opposite_words(load(cellxgene_file("PATO")))
    uberon = load(cellxgene_file("UBERON"))
    anatomy = opposites.anatomy_names(uberon, {w for w, _ in pairs})
    with open(opposites.hp_obo(), encoding="utf-8") as fh:
        terms = opposites.read_hpo(fh)
    prefixed = opposites.prefix_words(terms)
    found, skipped = opposites.derive(terms, {**pairs, **prefixed}, anatomy, opposites.part_names(uberon))
    seconds = time.perf_counter() - t0
    label = {t.id: t.names[0] for t in terms.values()}
    by_words = Counter(tuple(sorted(set(opposites.words(o.name_a)) ^ set(opposites.words(o.name_b)))) for o in found)
    lines = [f"# Opposite HPO phenotypes (`python bench/opposites.py --sample {args.sample} --seed {args.seed}`)", "",
             f"{len(found)} pairs from {len(pairs) // 2} PATO word pairs; {skipped} left out (a term under both, "
             f"or a bearer with parts or members); derivation {seconds:.1f} s.", "",
             "| words that differ | pairs |", "|---|---:|"]
    lines += [f"| {' / '.join(k)} | {n} |" for k, n in by_words.most_common()]
    root = find_dir()
    if root is not None:
        naive = naive_pairs(terms, read(root))
        lines += ["", f"Naive derivation (any WordNet adjective antonyms, anywhere in a name, no PATO, no filters): "
                  f"{sum(naive.values())} pairs; its commonest word pairs:", "", "| words | pairs |", "|---|---:|"]
        lines += [f"| {' / '.join(k)} | {n} |" for k, n in naive.most_common(15)]
    sample = random.Random(args.seed).sample(found, min(args.sample, len(found)))
    lines += ["", f"Seeded sample of {len(sample)} (seed {args.seed}), to judge by hand:", "",
              "| # | pair (HPO labels) | names that differ in one word |", "|---|---|---|"]
    lines += [f"| {i} | {label[o.a]} ({o.a}) \\| {label[o.b]} ({o.b}) | {o.name_a} / {o.name_b} |"
              for i, o in enumerate(sample)]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
