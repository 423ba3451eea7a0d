"""Self-alignment of the linker's encoder on the KG's own synonyms (SapBERT-style), as a LoRA adapter.

SapBERT (Liu et al., 2021) pulls together the names of one concept and pushes apart the names of
different concepts, so that an unseen wording of a concept lands next to its label. kgnlu does the
same with its own KG as the only supervision:

- **Synonym groups.** A concept's names are its label (or prefLabel) and its exact, alt and related
  synonyms, normalised (lower case, single spaces) and deduplicated. Obsolete concepts (label
  "obsolete ...") and non-English entries are skipped; broad and narrow synonyms name *other*
  concepts and are not positives.
- **Held-out concepts.** A seeded hash of the IRI (``is_held_out``) holds out a fraction of the
  concepts. Nothing of a held-out concept is trained on, and no training text may equal any of
  its names (a synonym shared with another concept would leak it). The NIL calibration
  (``kgnlu.training.linker_nil``) and ``bench/link.py`` remove the same concepts' EXACT synonyms
  from their KG and link them; both check ``training.json`` for the same split (``holdout.digest_exact``).
- **Pairs.** Per concept: (synonym, label) pairs first, then (synonym, synonym) pairs, at most
  ``max_pairs_per_concept``. They are taken in rounds (each concept's first pair, then each one's
  second, ...) up to ``max_pairs``, so a budget spreads over concepts rather than exhausting a few.
- **Hard negatives from faiss.** Each round's concepts are grouped by nearest neighbours of their
  labels under the current encoder (untuned at the start; ``remine`` re-mines each epoch), and a
  batch is a few such groups. Every other pair of a batch is a negative (InfoNCE with in-batch
  negatives), and the neighbours in one's own group are the hard ones: "Short 3rd finger" learns
  to stand apart from "Short 4th finger" rather than from "Hypertension".
- **Loss.** Symmetric InfoNCE over cosine similarities at temperature ``tau``; entries of the same
  concept or with the same text are masked out of the negatives.
- **Model.** LoRA (peft) on query, key, value and every dense layer of the six encoder layers of
  all-MiniLM-L6-v2 (not the unused pooler); dropout of the base model stays on during training.

Outputs in ``out_dir``: ``adapter_config.json`` + ``adapter_model.safetensors`` (peft,
safetensors), ``training.json`` (seed, split, data counts, metrics, timings),
``train_log.jsonl`` (one JSON object per step and per event) and, when ``train`` is given the
NIL phrases, ``linker.json`` (the calibrated NIL threshold, ``kgnlu.training.linker_nil``). ``MiniLMEncoder(adapter=out_dir)``
loads and merges it.

CPU budget: each pair costs a forward and a backward pass of two short strings, so the default
``max_pairs`` is sized for a run of minutes on a shared two-core CPU, mining and the held-out
evaluation included (the NIL calibration then ingests HPO and embeds its lexicon).
Same seed, KG and machine: same adapter (seeded python/numpy/torch, deterministic algorithms, torch's
thread count pinned: ``threads``).
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kgnlu.config import LINKER_RECIPE_THREADS
from kgnlu.kg.lexicon import LINKABLE
from kgnlu.progress import bar as progress_bar
from kgnlu.tasks.lexindex import embedding_key
from kgnlu.training.linker_split import (  # noqa: F401 - the split is part of this module's API
    HOLDOUT_SCHEME, TRAINING_FILE, is_held_out, read_training, split_digest)
from kgnlu.training.nli_train import deterministic

NAME_KINDS = ("label", "pref")
POSITIVE_KINDS = ("label", "pref", "exact", "alt", "related")
QUERY_KINDS = ("exact", "alt")  # what the held-out evaluation links (the bench: HPO's EXACT synonyms)
TARGET_MODULES = (r".*encoder\.layer\.\d+\.(attention\.self\.(query|key|value)|attention\.output\.dense"
                  r"|intermediate\.dense|output\.dense)")
LOG_FILE = "train_log.jsonl"
FORMAT = 1


# -- synonym groups and pairs --------------------------------------------------------------------

@dataclass(frozen=True)
class Concept:
    """A concept's normalised names, label first; ``exact`` are its exact/alt synonyms."""

    iri: str
    source: str
    names: tuple[str, ...]
    exact: tuple[str, ...]


def synonym_groups(kg_dir: str | Path, sources: Sequence[str] | None = None) -> tuple[list[Concept], dict]:
    """The linkable, non-obsolete concepts of ``sources`` (all when None) with their names.

    Returns ``(concepts, info)``; ``info['exact_iris']`` lists every IRI of those sources with an
    exact/alt synonym, obsolete ones included (the held-out digest is taken over them).
    """
    from kgnlu.kg.kgdir import KGDir
    from kgnlu.kg.lexicon import KIND_RANK, Lexicon
    from kgnlu.kg.tables import ClosureTables

    gen = KGDir(Path(kg_dir)).current()
    wanted = None if sources is None else set(sources)
    by_iri: dict[str, list] = {}
    exact_iris: set[str] = set()
    present: set[str] = set()
    for e in Lexicon(gen.path / "tables.sqlite3").entries():
        present.add(e.source)
        if (wanted is not None and e.source not in wanted) or e.kind not in POSITIVE_KINDS:
            continue
        if e.lang and not e.lang.lower().startswith("en"):
            continue
        if e.kind in QUERY_KINDS:
            exact_iris.add(e.iri)
        by_iri.setdefault(e.iri, []).append((KIND_RANK[e.kind], e.text, e.kind, e.source))
    if wanted is not None and not wanted & present:
        raise ValueError(f"the KG has no lexicon entries from {sorted(wanted)}; its sources are {sorted(present)}")
    tables = ClosureTables(gen.path / "tables.sqlite3")
    concepts = []
    for iri in sorted(by_iri):
        entries = sorted(by_iri[iri])
        if entries[0][2] not in NAME_KINDS or tables.kind(iri) not in LINKABLE:
            continue
        label = embedding_key(entries[0][1])
        if label.startswith("obsolete ") or not label:
            continue
        names = list(dict.fromkeys(embedding_key(t) for _, t, _, _ in entries if embedding_key(t)))
        exact = tuple(dict.fromkeys(embedding_key(t) for _, t, k, _ in entries if k in QUERY_KINDS and embedding_key(t)))
        concepts.append(Concept(iri, entries[0][3], tuple(names), exact))
    return concepts, {"exact_iris": sorted(exact_iris), "manifest_hash": gen.manifest().get("hash"),
                      "sources": sorted(wanted) if wanted is not None else sorted(present)}


@dataclass(frozen=True)
class Pair:
    anchor: str  # a synonym
    positive: str  # the label, or another synonym of the same concept
    concept: int  # index into the training concepts


def make_pairs(concepts: Sequence[Concept], banned: set[str], *, seed: int, max_pairs: int | None,
               max_pairs_per_concept: int = 4) -> tuple[list[list[Pair]], int]:
    """Positive pairs in rounds (round r holds each concept's r-th pair), cut at ``max_pairs``.

    Texts in ``banned`` (the held-out concepts' names) never appear. Returns ``(rounds,
    n_available)``, where ``n_available`` counts the pairs before the cut.
    """
    rng = random.Random(f"pairs:{seed}")
    per_concept: list[list[Pair]] = []
    for ci, c in enumerate(concepts):
        names = [n for n in c.names if n not in banned]
        if len(names) < 2:
            per_concept.append([])
            continue
        head, syns = names[0], names[1:]
        rng.shuffle(syns)
        pairs = [Pair(s, head, ci) for s in syns]
        extra = [Pair(a, b, ci) for i, a in enumerate(syns) for b in syns[i + 1:]]
        rng.shuffle(extra)
        per_concept.append((pairs + extra)[:max_pairs_per_concept])
    available = sum(len(p) for p in per_concept)
    order = [i for i, p in enumerate(per_concept) if p]
    rng.shuffle(order)  # which concepts a budget smaller than one round reaches
    rounds, used = [], 0
    for r in range(max_pairs_per_concept):
        rnd = [per_concept[i][r] for i in order if len(per_concept[i]) > r]
        if max_pairs is not None:
            rnd = rnd[:max(0, max_pairs - used)]
        if not rnd:
            break
        rounds.append(rnd)
        used += len(rnd)
    return rounds, available


def hard_batches(rounds: Sequence[Sequence[Pair]], vectors: np.ndarray, batch_size: int, *, seed: int,
                 group: int = 8) -> list[list[Pair]]:
    """Batches of ``batch_size`` pairs made of groups of ``group`` nearest-neighbour concepts.

    ``vectors[i]`` is concept i's label vector under the current encoder; faiss finds each
    concept's neighbours within its round, and a group is a seed concept plus its nearest
    still-unassigned neighbours. Groups are shuffled (seeded) before they are cut into batches.
    """
    import faiss

    rng = random.Random(f"batches:{seed}")
    batches: list[list[Pair]] = []
    for r, rnd in enumerate(rounds):
        if not rnd:
            continue
        x = np.ascontiguousarray(vectors[[p.concept for p in rnd]], dtype=np.float32)
        k = min(len(rnd), 4 * group)
        index = faiss.IndexFlatIP(x.shape[1])
        index.add(x)
        _, nbrs = index.search(x, k)
        taken = np.zeros(len(rnd), dtype=bool)
        groups = []
        seeds = list(range(len(rnd)))
        rng.shuffle(seeds)
        for s in seeds:
            if taken[s]:
                continue
            g = [s]
            taken[s] = True
            for n in nbrs[s]:
                if len(g) >= group:
                    break
                if n >= 0 and not taken[n]:
                    g.append(int(n))
                    taken[n] = True
            groups.append(g)
        rng.shuffle(groups)
        flat = [rnd[i] for g in groups for i in g]
        batches.extend(flat[i:i + batch_size] for i in range(0, len(flat), batch_size))
    rng.shuffle(batches)
    return batches


# -- model pieces --------------------------------------------------------------------------------

def _embed(model, tokenizer, texts: Sequence[str], max_length: int):
    """Mean-pooled, L2-normalised vectors (MiniLMEncoder's pipeline, with gradients)."""
    import torch

    batch = tokenizer([t.strip() for t in texts], padding=True, truncation=True, max_length=max_length,
                      return_tensors="pt")
    hidden = model(**batch).last_hidden_state
    m = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
    mean = (hidden * m).sum(1) / torch.clamp(m.sum(1), min=1e-9)
    return torch.nn.functional.normalize(mean, p=2, dim=1)


def encode(model, tokenizer, texts: Sequence[str], *, max_length: int = 64, batch_size: int = 128) -> np.ndarray:
    """Vectors of ``texts`` under ``model`` (eval mode, no gradients), in input order."""
    import torch

    out = np.empty((len(texts), model.config.hidden_size), dtype=np.float32)
    order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
    was_training = model.training
    model.eval()
    with torch.inference_mode():
        for s in range(0, len(order), batch_size):
            idx = order[s:s + batch_size]
            out[idx] = _embed(model, tokenizer, [texts[i] for i in idx], max_length).float().numpy()
    model.train(was_training)
    return out


def info_nce(a, p, tau: float, same):
    """Symmetric InfoNCE: ``-log softmax(a_i . p_i / tau)`` over row i of ``a @ p.T`` and over column i.

    ``same[i, j]`` (bool, off-diagonal) marks pairs of one concept or one text: not negatives.
    """
    import torch

    logits = (a @ p.T) / tau
    logits = logits.masked_fill(same, float("-inf"))
    target = torch.arange(len(a))
    return 0.5 * (torch.nn.functional.cross_entropy(logits, target)
                  + torch.nn.functional.cross_entropy(logits.T, target))


def _same_mask(batch: Sequence[Pair]):
    import torch

    n = len(batch)
    m = torch.zeros((n, n), dtype=torch.bool)
    for i in range(n):
        for j in range(n):
            if i != j and (batch[i].concept == batch[j].concept or batch[i].anchor == batch[j].positive
                           or batch[i].positive == batch[j].positive or batch[i].anchor == batch[j].anchor):
                m[i, j] = True
    return m


def accuracy_at(query_vecs: np.ndarray, gold: Sequence[str], pool_vecs: np.ndarray, pool_iris: Sequence[str],
                ks: Sequence[int] = (1, 5)) -> dict:
    """acc@k of nearest-neighbour linking, candidates deduplicated by IRI (best text per IRI)."""
    import faiss

    if len(gold) == 0:
        return {f"acc@{k}": None for k in ks}
    index = faiss.IndexFlatIP(pool_vecs.shape[1])
    index.add(np.ascontiguousarray(pool_vecs, dtype=np.float32))
    _, ids = index.search(np.ascontiguousarray(query_vecs, dtype=np.float32), min(len(pool_iris), 4 * max(ks) + 10))
    hits = {k: 0 for k in ks}
    for row, g in zip(ids.tolist(), gold):
        ranked = list(dict.fromkeys(pool_iris[i] for i in row if i >= 0))
        for k in ks:
            hits[k] += g in ranked[:k]
    return {f"acc@{k}": round(hits[k] / len(gold), 4) for k in ks}


class _Log:
    """train_log.jsonl: one JSON object per line, flushed as written."""

    def __init__(self, path: Path):
        self._f = open(path, "w", encoding="utf-8")
        self._t0 = time.perf_counter()

    def __call__(self, event: str, **fields) -> None:
        self._f.write(json.dumps({"event": event, "t": round(time.perf_counter() - self._t0, 3), **fields}) + "\n")
        self._f.flush()

    def close(self) -> None:
        self._f.close()


# -- training ------------------------------------------------------------------------------------

def train(kg_dir: str | Path, out_dir: str | Path, *, seed: int = 0, epochs: int = 1, max_pairs: int | None = 4000,
          max_pairs_per_concept: int = 4, batch_size: int = 64, group: int = 8, lr: float = 2e-4,
          warmup: float = 0.05, tau: float = 0.05, rank: int = 16, alpha: int = 32, lora_dropout: float = 0.0,
          holdout: float = 0.1, holdout_seed: int = 0, sources: Sequence[str] | None = ("hpo",),
          max_length: int = 32, remine: bool = True, eval_queries: int = 400, eval_pool: int = 4000,
          model_path: str | Path | None = None, progress: bool = True, nil_phrases: str | Path | None = None,
          calibrate_only: bool = False, calibration_work: str | Path | None = None,
          threads: int | None = LINKER_RECIPE_THREADS, command: str | None = None) -> dict:
    """Train the self-alignment LoRA adapter on ``kg_dir``'s synonym groups; save it in ``out_dir``.

    Returns the report also written to ``training.json``. ``sources`` limits the concepts to
    those lexicon sources (None: all). ``eval_queries`` held-out exact synonyms are linked
    against ``eval_pool`` concept labels (every gold label included) before and after training;
    0 skips the evaluation. See the module docstring for the method.

    With ``nil_phrases`` (``data/nil_phrases.txt``), the adapter's NIL threshold is then
    calibrated on the held-out split and written to ``out_dir/linker.json``
    (``kgnlu.training.linker_nil``; the report's ``nil``). ``calibrate_only`` skips training and
    recalibrates the encoder already in ``out_dir`` (an adapter, or a sentence-transformers
    folder); it returns the calibration. ``calibration_work`` keeps the calibration's held-out
    HPO KG between runs. ``threads``: torch's thread count for the run (restored after; None: as
    it is), the shipped adapter's by default, as other counts train other weights. ``command``: the
    command line that ran this training, kept in the report beside the library versions.
    """
    if calibrate_only or nil_phrases is not None:
        from kgnlu.training.linker_nil import calibrate_encoder

        if nil_phrases is None:
            raise ValueError("calibrating the NIL threshold needs nil_phrases (data/nil_phrases.txt)")
        if calibrate_only:
            return calibrate_encoder(out_dir, nil_phrases, work=calibration_work, log=_stderr if progress else _silent,
                                     **({} if read_training(out_dir) else {"seed": holdout_seed, "fraction": holdout}))
        nil_file = Path(nil_phrases)
        if not nil_file.is_file():  # before the minutes of training, not after
            raise FileNotFoundError(f"{nil_file}: no such file (the NIL phrases to calibrate on)")
    report = _train(kg_dir, out_dir, seed=seed, epochs=epochs, max_pairs=max_pairs,
                    max_pairs_per_concept=max_pairs_per_concept, batch_size=batch_size, group=group, lr=lr,
                    warmup=warmup, tau=tau, rank=rank, alpha=alpha, lora_dropout=lora_dropout, holdout=holdout,
                    holdout_seed=holdout_seed, sources=sources, max_length=max_length, remine=remine,
                    eval_queries=eval_queries, eval_pool=eval_pool, model_path=model_path, progress=progress,
                    threads=threads, command=command)
    if nil_phrases is not None:
        nil = calibrate_encoder(out_dir, nil_phrases, work=calibration_work, log=_stderr if progress else _silent)
        report["nil"] = {k: nil[k] for k in ("nil_threshold", "f1", "precision", "recall", "positives", "negatives")}
        (Path(out_dir) / TRAINING_FILE).write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")
    return report


def _stderr(msg: str) -> None:
    import sys

    print(f"[linker] {msg}", file=sys.stderr, flush=True)


def _silent(msg: str) -> None:
    pass


def _train(kg_dir: str | Path, out_dir: str | Path, *, seed: int, epochs: int, max_pairs: int | None,
           max_pairs_per_concept: int, batch_size: int, group: int, lr: float, warmup: float, tau: float, rank: int,
           alpha: int, lora_dropout: float, holdout: float, holdout_seed: int, sources: Sequence[str] | None,
           max_length: int, remine: bool, eval_queries: int, eval_pool: int, model_path: str | Path | None,
           progress: bool, threads: int | None = None, command: str | None = None) -> dict:
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoTokenizer

    from kgnlu.neural.encoder import BASE_MODEL_NAME, default_model_path, encoder_fingerprint, save_adapter
    from kgnlu.neural.lora import load_base
    from kgnlu.neural.manifest import library_versions

    if batch_size < 2:
        raise ValueError(f"batch_size must be >= 2 (in-batch negatives); got {batch_size}")
    if not 0.0 <= holdout < 1.0:
        raise ValueError(f"holdout must be in [0, 1); got {holdout}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    log = _Log(out / LOG_FILE)
    t0 = time.perf_counter()
    seconds: dict[str, float] = {}

    def lap(name: str, since: float) -> float:
        now = time.perf_counter()
        seconds[name] = round(now - since, 2)
        return now

    try:
        # -- data: concepts, split, pairs
        concepts, info = synonym_groups(kg_dir, sources)
        held = [c for c in concepts if is_held_out(c.iri, holdout_seed, holdout)]
        kept = [c for c in concepts if not is_held_out(c.iri, holdout_seed, holdout)]
        banned = {n for c in held for n in c.names}
        rounds, available = make_pairs(kept, banned, seed=seed, max_pairs=max_pairs,
                                       max_pairs_per_concept=max_pairs_per_concept)
        n_pairs = sum(len(r) for r in rounds)
        if n_pairs == 0:
            raise ValueError(f"no training pairs: the {len(kept)} training concepts of {info['sources']} have no synonyms")
        held_exact = sorted(iri for iri in info["exact_iris"] if is_held_out(iri, holdout_seed, holdout))
        split = {"seed": holdout_seed, "fraction": holdout, "scheme": HOLDOUT_SCHEME,
                 "held_out_concepts": len(held), "held_out_with_exact": len(held_exact),
                 "digest_exact": split_digest(held_exact)}
        trained_concepts = sorted({p.concept for r in rounds for p in r})
        data = {"sources": info["sources"], "concepts": len(concepts), "train_concepts": len(kept),
                "concepts_with_pairs": len(trained_concepts), "pairs_available": available, "pairs": n_pairs,
                "banned_texts": len(banned)}
        log("data", **data, holdout=split)
        log("pairs", pairs=[[p.anchor, p.positive, kept[p.concept].iri] for r in rounds for p in r])
        t = lap("data", t0)

        # -- the base encoder; untuned vectors for mining and the "before" evaluation
        with deterministic(seed, threads):
            # transformers' BertModel, not MiniLMEncoder's inference copy: peft wraps it for training.
            base_path = Path(model_path) if model_path is not None else default_model_path()
            model = load_base(base_path).eval()
            tok = AutoTokenizer.from_pretrained(str(base_path), local_files_only=True)
            base_fp = encoder_fingerprint(base_path, None, max_length)
            rng = random.Random(f"eval:{seed}")
            queries = [(q, c.iri) for c in held for q in c.exact if q not in {n for n in c.names[:1]}]
            rng.shuffle(queries)
            queries = queries[:eval_queries] if eval_queries else []
            gold_iris = {iri for _, iri in queries}
            others = [c for c in concepts if c.iri not in gold_iris]
            rng.shuffle(others)
            pool = [c for c in concepts if c.iri in gold_iris] + others[:max(0, eval_pool - len(gold_iris))]
            pool_texts, pool_iris = [c.names[0] for c in pool], [c.iri for c in pool]
            q_texts, q_gold = [q for q, _ in queries], [g for _, g in queries]

            label_texts = [kept[i].names[0] for i in trained_concepts]
            base = encode(model, tok, label_texts + pool_texts + q_texts, max_length=max_length)
            vecs = np.zeros((len(kept), base.shape[1]), dtype=np.float32)
            vecs[trained_concepts] = base[:len(label_texts)]
            metrics: dict = {"dev": {"queries": len(q_texts), "pool": len(pool_texts)}}
            if q_texts:
                pv, qv = base[len(label_texts):len(label_texts) + len(pool_texts)], base[len(label_texts) + len(pool_texts):]
                metrics["dev"]["untuned"] = accuracy_at(qv, q_gold, pv, pool_iris)
                log("eval", which="untuned", **metrics["dev"]["untuned"])
            t = lap("embed_untuned", t)

            # -- LoRA
            lora = LoraConfig(r=rank, lora_alpha=alpha, lora_dropout=lora_dropout, target_modules=TARGET_MODULES,
                              bias="none")
            model = get_peft_model(model, lora)
            model.train()
            params = [p for p in model.parameters() if p.requires_grad]
            opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.0)
            total_steps = epochs * sum(-(-len(r) // batch_size) for r in rounds)
            warm = max(1, int(warmup * total_steps))
            # Linear warm-up over ``warmup`` of the steps, then linear decay to zero.
            sched = torch.optim.lr_scheduler.LambdaLR(
                opt, lambda s: (s + 1) / warm if s < warm else max(0.0, (total_steps - s) / max(1, total_steps - warm)))
            step, losses, epoch_losses = 0, [], []
            t_train = time.perf_counter()
            for epoch in range(epochs):
                if epoch > 0 and remine:
                    vecs[trained_concepts] = encode(model, tok, label_texts, max_length=max_length)
                    log("remine", epoch=epoch)
                batches = hard_batches(rounds, vecs, batch_size, seed=seed + epoch, group=group)
                steps = progress_bar(batches, f"linker epoch {epoch + 1}/{epochs}", progress)
                ep = []
                for batch in steps:
                    if len(batch) < 2:
                        continue
                    emb = _embed(model, tok, [p.anchor for p in batch] + [p.positive for p in batch], max_length)
                    loss = info_nce(emb[:len(batch)], emb[len(batch):], tau, _same_mask(batch))
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                    opt.step()
                    sched.step()
                    step += 1
                    value = float(loss.detach())
                    losses.append(value)
                    ep.append(value)
                    log("step", step=step, epoch=epoch, loss=round(value, 5), pairs=len(batch),
                        lr=float(sched.get_last_lr()[0]))
                epoch_losses.append(round(float(np.mean(ep)), 5) if ep else None)
                log("epoch", epoch=epoch, loss=epoch_losses[-1])
            train_seconds = time.perf_counter() - t_train
            trained_threads = torch.get_num_threads()  # the count the weights depend on; restored below
            t = lap("train", t)

            if q_texts:
                vecs_after = encode(model, tok, pool_texts + q_texts, max_length=max_length)
                metrics["dev"]["tuned"] = accuracy_at(vecs_after[len(pool_texts):], q_gold,
                                                      vecs_after[:len(pool_texts)], pool_iris)
                log("eval", which="tuned", **metrics["dev"]["tuned"])
            t = lap("embed_tuned", t)

        # -- save
        save_adapter(model, out)
        k = max(1, len(losses) // 10)
        metrics.update({"loss_first": round(float(np.mean(losses[:k])), 5), "loss_last": round(float(np.mean(losses[-k:])), 5),
                        "epoch_losses": epoch_losses, "steps": step,
                        "pairs_per_s": round(epochs * n_pairs / max(train_seconds, 1e-9), 2)})
        lap("save", t)
        seconds["total"] = round(time.perf_counter() - t0, 2)
        report = {
            "format": FORMAT, "kind": "kgnlu.linker-adapter", "seed": seed, "holdout": split, "data": data,
            "kg": {"manifest_hash": info["manifest_hash"]},
            "base_model": {"name": BASE_MODEL_NAME, "fingerprint": base_fp},
            "lora": {"r": rank, "alpha": alpha, "dropout": lora_dropout, "target_modules": TARGET_MODULES},
            "hyper": {"epochs": epochs, "max_pairs": max_pairs, "max_pairs_per_concept": max_pairs_per_concept,
                      "batch_size": batch_size, "group": group, "lr": lr, "warmup": warmup, "tau": tau,
                      "max_length": max_length, "remine": remine, "loss": "symmetric InfoNCE, in-batch negatives",
                      "torch_threads": trained_threads},
            "metrics": metrics, "seconds": seconds, "command": command, "versions": library_versions(),
        }
        (out / TRAINING_FILE).write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")
        log("done", seconds=seconds["total"])
        return report
    finally:
        log.close()


__all__ = ["Concept", "Pair", "accuracy_at", "encode", "hard_batches", "info_nce", "is_held_out", "make_pairs",
           "read_training", "split_digest", "synonym_groups", "train", "HOLDOUT_SCHEME"]
