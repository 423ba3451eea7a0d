"""Long premises (issue 19): which text of a long pair should the cross-encoder read?

MiniLM reads at most ``max_length`` (128) word pieces of ``[CLS] premise [SEP] hypothesis [SEP]``.
About 39% of the Citation-Integrity pairs are longer (median 111 pieces, 90th percentile 224),
SNLI and MNLI pairs almost never are. Policies, applied to the text before the model sees it:

- ``longest_first`` (what kgnlu does, the tokenizer's default): cut word pieces from the end of the
  longer side until the pair fits;
- ``premise_only``: keep the whole hypothesis (the claim being judged) and cut the premise's end;
- ``nearest_sentences``: keep the premise sentences nearest the hypothesis (MiniLM cosine, the
  packaged encoder), in their order, as many as fit beside the whole hypothesis.

Each policy's neural-only (``mode="neural"``, the cross-encoder alone) and fused accuracy and
macro-F1 on Citation-Integrity dev and on the Citation-Integrity pairs the model did not train on
(``bench/nli.py``'s tuning part). The model trained with ``longest_first``, so the other policies
are read at inference only: a policy that wins here is worth training with.

Usage: ``python bench/nli_long.py --kg /tmp/kg-default [--model DIR] [--real DIR]``; writes
``bench/results/nli_long.md``.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9(\[])")
POLICIES = ("longest_first", "premise_only", "nearest_sentences")


def fit_premise(tokenizer, premise: str, hypothesis: str, budget: int) -> str:
    """The premise cut at its end to the word pieces left beside the whole hypothesis."""
    room = budget - 3 - len(tokenizer.tokenize(hypothesis))
    pieces = tokenizer.tokenize(premise)
    if room <= 0 or len(pieces) <= room:
        return premise
    return tokenizer.convert_tokens_to_string(pieces[:room])


def nearest_sentences(tokenizer, encode, premise: str, hypothesis: str, budget: int) -> str:
    """The premise sentences nearest the hypothesis, in their order, that fit beside it."""
    room = budget - 3 - len(tokenizer.tokenize(hypothesis))
    sentences = [s for s in SENTENCE.split(premise) if s.strip()]
    if room <= 0 or len(tokenizer.tokenize(premise)) <= room or len(sentences) < 2:
        return fit_premise(tokenizer, premise, hypothesis, budget)
    vecs = encode(sentences + [hypothesis])
    order = np.argsort(-(vecs[:-1] @ vecs[-1]), kind="stable")
    kept, used = [], 0
    for i in order:
        n = len(tokenizer.tokenize(sentences[i]))
        if used + n <= room:
            kept.append(i)
            used += n
    if not kept:  # the nearest sentence alone is too long: cut it
        return fit_premise(tokenizer, sentences[order[0]], hypothesis, budget)
    return " ".join(sentences[i] for i in sorted(kept))


def main(argv=None) -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kg", required=True)
    ap.add_argument("--model", default=str(REPO / "src" / "kgnlu" / "assets" / "nli"))
    ap.add_argument("--real", default=str(REPO.parent / "shared" / "realdata" / "nli"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default=str(REPO / "bench" / "results" / "nli_long.md"))
    args = ap.parse_args(argv)

    import torch
    from sentence_transformers import SentenceTransformer

    from kgnlu.api import Engine
    from kgnlu.labels import LABELS
    from kgnlu.neural.encoder import default_model_path
    from kgnlu.tasks.nli_fused import FusedNLIPredictor
    from kgnlu.training.nli_metrics import classification_metrics

    torch.set_num_threads(args.threads)
    from symbolic import _bench_nli  # bench/ is this script's folder, first on sys.path

    bn = _bench_nli()
    t0 = time.perf_counter()
    parts = bn.real_parts(args.real, None, None, 0, model_dir=args.model)
    if "missing" in parts:
        sys.exit(parts["missing"])
    excluded = parts["tuning_excluded"]
    sets = {"Citation-Integrity dev": parts["report"]["Citation-Integrity dev"]["rows"],
            "Citation-Integrity, not trained on": parts["tune"]["Citation-Integrity"]["rows"]}
    engine = Engine(args.kg, model=args.model, device="cpu")
    fused = engine.nli_predictor()
    neural = FusedNLIPredictor(fused.model, fused.linker, fused.rules, fused.node_vectors,
                               batch_size=fused.batch_size, mode="neural")
    from transformers import AutoTokenizer

    # the same word pieces as the model's own tokenizer, with tokenize/convert_tokens_to_string
    tok = AutoTokenizer.from_pretrained(str(default_model_path()), local_files_only=True)
    budget = fused.model.config["max_length"]
    st = SentenceTransformer(str(default_model_path()), device="cpu")

    def encode(texts):
        return st.encode(texts, normalize_embeddings=True, convert_to_numpy=True)

    rows_out = []
    for name, rows in sets.items():
        gold = [r["label"] for r in rows]
        over = sum(len(tok(r["premise"], r["hypothesis"])["input_ids"]) > budget for r in rows)
        for policy in POLICIES:
            if policy == "longest_first":
                premises = [r["premise"] for r in rows]
            elif policy == "premise_only":
                premises = [fit_premise(tok, r["premise"], r["hypothesis"], budget) for r in rows]
            else:
                premises = [nearest_sentences(tok, encode, r["premise"], r["hypothesis"], budget) for r in rows]
            hyps = [r["hypothesis"] for r in rows]
            res = {}
            for mode, predictor in (("neural", neural), ("fused", fused)):
                out = predictor.predict(premises, hyps)
                probs = np.array([[o.probabilities[lab] for lab in LABELS] for o in out])
                res[mode] = classification_metrics(gold, probs)
            rows_out.append((name, len(rows), over, policy, res))
            print(name, policy, {m: round(r["accuracy"], 4) for m, r in res.items()}, file=sys.stderr, flush=True)
    lines = ["# Long premises: what the cross-encoder reads of a long pair (`bench/nli_long.py`)", "",
             f"Run on {time.strftime('%Y-%m-%d')}, 2 CPU cores, model `{args.model}`, KG `{args.kg}`; "
             f"{time.perf_counter() - t0:.0f} s. The tuning part: {excluded}.", "",
             "| set | pairs | over 128 pieces | policy | neural acc | neural macro-F1 | fused acc | fused macro-F1 |",
             "|---|---:|---:|---|---:|---:|---:|---:|"]
    for name, n, over, policy, res in rows_out:
        lines.append(f"| {name} | {n} | {over} | {policy} | {res['neural']['accuracy']:.3f} | "
                     f"{res['neural']['macro_f1']:.3f} | {res['fused']['accuracy']:.3f} | {res['fused']['macro_f1']:.3f} |")
    lines += ["", "The model trained with `longest_first`; the other policies are applied at inference only."]
    Path(args.out).write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
