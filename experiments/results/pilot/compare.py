"""Paired comparison of two evaluated students on the own suite's call items, free and constrained,
with the package's paired bootstrap (structcall.experiments.attribution.difference, 1,000 draws).

    python experiments/results/pilot/compare.py A.jsonl.gz:ARM B.jsonl.gz:ARM [--names A B]

e.g. the LoRA student against the full fine-tune (from the repository root):
    python experiments/results/pilot/compare.py experiments/results/pilot/lora/items.jsonl.gz:sft \
        experiments/results/pilot/items.jsonl.gz:sft --names lora full
"""
import argparse
import gzip
import json
from collections import Counter

import numpy as np

from structcall.experiments.attribution import difference


def load(spec: str) -> dict[str, dict[str, dict]]:
    """``{regime: {item: row}}`` for one arm's own-suite rows, free and constrained."""
    path, arm = spec.rsplit(":", 1)
    with (gzip.open(path, "rt") if path.endswith(".gz") else open(path)) as f:
        rows = [json.loads(line) for line in f]
    out = {regime: {r["item"]: r for r in rows if r["suite"] == "own" and r["arm"] == arm and r["regime"] == regime}
           for regime in ("free", "constrained")}
    for regime, got in out.items():
        if not got:
            raise SystemExit(f"{path}: no own-suite rows for arm {arm!r}, regime {regime!r}")
    return out


ap = argparse.ArgumentParser()
ap.add_argument("a"); ap.add_argument("b"); ap.add_argument("--names", nargs=2, default=["A", "B"])
args = ap.parse_args()
na, nb = args.names
rows_a, rows_b = load(args.a), load(args.b)
for regime in ("free", "constrained"):
    a, b = rows_a[regime], rows_b[regime]
    call = sorted(i for i in a if a[i]["expect"] == "call")
    if sorted(i for i in b if b[i]["expect"] == "call") != call:
        raise SystemExit("the two students were not scored on the same call items")
    for metric in ("ast", "format_valid"):
        ma = np.array([[float(bool(a[i][metric])) for i in call]])
        mb = np.array([[float(bool(b[i][metric])) for i in call]])
        c = difference(ma, mb, n_boot=1000, seed=0)
        print(f"{regime:11s} {metric:12s} {na} {100 * ma.mean():5.1f}%  {nb} {100 * mb.mean():5.1f}%  "
              f"{na} - {nb}: {100 * c['estimate']:+.1f} pp [{100 * c['lo']:+.1f}, {100 * c['hi']:+.1f}]  (n={len(call)})")
    nocall = [i for i in a if a[i]["expect"] != "call"]
    alarms = {n: sum(x[i]["decision"] == "call" for i in nocall) for n, x in ((na, a), (nb, b))}
    print(f"{regime:11s} false alarms on no-call items: " + ", ".join(f"{n} {k}/{len(nocall)}" for n, k in alarms.items()))
    for n, x in ((na, a), (nb, b)):
        print(f"{'':11s} labels on call items, {n}: {dict(Counter(lab for i in call for lab in x[i]['labels']).most_common())}")
