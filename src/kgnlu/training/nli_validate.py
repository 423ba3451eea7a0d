"""Generated NLI pairs checked against the linker and the rules: does each pair link as intended?"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from pathlib import Path


def validate(kg_dir: Path | str, rows: list[dict], n: int = 300, seed: int = 0, session=None) -> dict:
    """Link premise and hypothesis of ``n`` sampled rows (lexicon only) and compare with the intent.

    ``agreement``: share of pairs whose every intended concept is linked on its side with the
    intended polarity (any polarity for hedged/questioned mentions). ``exact``: also nothing
    else linked. General-English pairs agree when nothing links. ``symbolic``: per type, how
    often ``kg.rules`` on the linked mentions reaches the gold label (hedges and questions are
    expected to disagree: the rules read "possible X" as +X).
    """
    from kgnlu.runtime import open_session
    from kgnlu.tasks.nli import VERDICT_TO_LABEL, decide

    session = session or open_session(kg_dir)
    rng = random.Random(f"kgnlu-nli-validate:{seed}")
    by_type: dict[str, list[dict]] = defaultdict(list)
    for r in rows:
        by_type[r["type"]].append(r)
    sample: list[dict] = []
    per_type = max(1, n // max(1, len(by_type)))
    for t in sorted(by_type):
        sample += rng.sample(by_type[t], min(per_type, len(by_type[t])))
    rest = [r for r in rows if r not in sample] if len(sample) < n else []
    sample += rng.sample(rest, min(n - len(sample), len(rest))) if rest else []
    linked = session.linker().link_many([s for r in sample for s in (r["premise"], r["hypothesis"])])
    tables, rules = session.tables, session.rules()
    ok = exact = 0
    agree_t, sym_t, total_t = Counter(), Counter(), Counter()
    failures = []

    def same(a: str, b: str) -> bool:
        return a == b or tables.equivalent(a, b)

    for k, r in enumerate(sample):
        pm, hm = linked[2 * k], linked[2 * k + 1]
        good, strict = True, True
        for intended, found in ((r["premise_concepts"], pm), (r["hypothesis_concepts"], hm)):
            for iri, neg in intended:
                if not any(same(m.iri, iri) and (neg is None or m.negated == neg) for m in found):
                    good = False
            if len(found) != len(intended) or not good:
                strict = False
        total_t[r["type"]] += 1
        ok += good
        exact += strict
        agree_t[r["type"]] += good
        verdict = decide(rules, r["premise"], r["hypothesis"], pm, hm)
        sym_t[r["type"]] += VERDICT_TO_LABEL[verdict.label] == r["label"]
        if not strict and len(failures) < 25:
            failures.append({"id": r["id"], "type": r["type"], "premise": r["premise"], "hypothesis": r["hypothesis"],
                             "intended": [r["premise_concepts"], r["hypothesis_concepts"]],
                             "linked": [[[m.text, m.iri, m.negated] for m in ms] for ms in (pm, hm)]})
    m = max(1, len(sample))
    return {"pairs": len(sample), "agreement": round(ok / m, 4), "exact": round(exact / m, 4),
            "agreement_by_type": {t: round(agree_t[t] / total_t[t], 3) for t in sorted(total_t)},
            "symbolic_agrees_with_label_by_type": {t: round(sym_t[t] / total_t[t], 3) for t in sorted(total_t)},
            "failures": failures}
