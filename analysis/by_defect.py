#!/usr/bin/python3
"""Which defects each method finds: I-AUROC and P-AUROC per defect type, from a results file.

    analysis/by_defect.py RESULTS.h5 [--format md|csv] [--out FILE.png] [--json FILE]

For a task (one method, class and variant) and a defect type d present in its test set:
  I-AUROC(d)  the object scores of the class's samples of type d against those of its normal samples;
  P-AUROC(d)  the point scores of the points of those samples together (the normal samples' points all
              normal), as the task's P-AUROC pools a class's test set.
Each cell is the mean over the classes that have both normal samples and samples of type d; a
(method, variant) row per table, a defect column each, "all" the task's own stored metrics (mean over
classes). Failed tasks are left out. --out draws the P-AUROC table as grouped bars; --json writes
{"defects": [...], "rows": [{"dataset", "method", "variant", "i_auroc": {d: v}, "p_auroc": {d: v},
"classes": {d: n}}]}.
"""
import argparse
import json
import math
import os
import sys
from collections import defaultdict

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ad3dres  # noqa: E402

import numpy as np  # noqa: E402

# Anomaly-ShapeNet's and ad3d synth's defect names first, in this order; others (Real3D-AD's) after, sorted
KNOWN = ["bulge", "concavity", "sink", "hole", "broken", "bending", "crack", "scratch"]


def auroc(labels, scores):
    """Rank AUROC with ties counted one half (None when a class is absent)."""
    curve = ad3dres.roc_curve(labels, scores)
    return None if curve is None else ad3dres.auc(*curve)


def task_by_defect(sc):
    """{defect: (i_auroc, p_auroc)} of one task's scores (see the module's help)."""
    normal = sc.label == 0
    bounds = np.r_[0, np.cumsum(sc.npoints)]
    out = {}
    for d in sorted({x for x, lab in zip(sc.defects, sc.label) if lab}):
        pick = np.array([lab == 1 and x == d for x, lab in zip(sc.defects, sc.label)])
        if not pick.any() or not normal.any():
            continue
        both = pick | normal
        i = auroc(sc.label[both], sc.object_score[both])
        pts = np.concatenate([np.arange(bounds[k], bounds[k + 1]) for k in np.nonzero(both)[0]])
        p = auroc(sc.point_label[pts], sc.point_score[pts])
        out[d] = (i, p)
    return out


def table(res):
    """(defects in column order, {(dataset, method, variant): {defect: [(i, p), ...]}}, stored means)."""
    cells = defaultdict(lambda: defaultdict(list))
    stored = defaultdict(lambda: ([], []))
    for t in res.tasks:
        if not t.ok:
            continue
        row = (t.dataset, t.method, t.variant)
        for d, ip in task_by_defect(res.scores(t.key)).items():
            cells[row][d].append(ip)
        stored[row][0].append(t.i_auroc)
        stored[row][1].append(t.p_auroc)
    found = {d for r in cells.values() for d in r}
    defects = [d for d in KNOWN if d in found] + sorted(found - set(KNOWN))
    return defects, cells, stored


def mean(vals):
    vals = [v for v in vals if v is not None and math.isfinite(v)]
    return float(np.mean(vals)) if vals else math.nan


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("results")
    ap.add_argument("--format", choices=["md", "csv"], default="md")
    ap.add_argument("--out", help="PNG of the P-AUROC per defect (grouped bars)")
    ap.add_argument("--json", help="write the numbers shown as JSON")
    a = ap.parse_args()
    res = ad3dres.Results(a.results)
    defects, cells, stored = table(res)
    if not cells:
        sys.exit(f"{a.results}: no finished task with both normal and anomalous test samples")
    rows = []
    for (ds, method, variant), per in sorted(cells.items()):
        rows.append({"dataset": ds, "method": method, "variant": variant,
                     "i_auroc": {d: mean([ip[0] for ip in per[d]]) for d in defects},
                     "p_auroc": {d: mean([ip[1] for ip in per[d]]) for d in defects},
                     "classes": {d: len(per[d]) for d in defects},
                     "all": [mean(stored[(ds, method, variant)][0]), mean(stored[(ds, method, variant)][1])]})
    for k, metric in enumerate(["i_auroc", "p_auroc"]):
        head = ["dataset", "method", "variant"] + defects + ["all"]
        lines = [[r["dataset"], r["method"], r["variant"]] + [f"{r[metric][d]:.3f}" for d in defects] +
                 [f"{r['all'][k]:.3f}"] for r in rows]
        if a.format == "csv":
            print(f"# {metric}")
            print(",".join(head))
            for line in lines:
                print(",".join(line))
        else:
            print(f"\n**{'I-AUROC' if k == 0 else 'P-AUROC'} per defect type** (mean over classes)\n")
            print("| " + " | ".join(head) + " |")
            print("|" + "---|" * 3 + "---:|" * (len(defects) + 1))
            for line in lines:
                print("| " + " | ".join(line) + " |")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"defects": defects, "rows": rows}, f, indent=1)
    if a.out:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        fig, ax = plt.subplots(figsize=(max(6.0, 1.2 * len(defects) + 2), 4.0))
        width = 0.8 / len(rows)
        for j, r in enumerate(rows):
            label = r["method"] if r["variant"] == "default" else f"{r['method']} [{r['variant']}]"
            ax.bar(np.arange(len(defects)) + j * width, [r["p_auroc"][d] for d in defects], width, label=label)
        ax.axhline(0.5, color="grey", lw=0.8, ls="--")
        ax.set_xticks(np.arange(len(defects)) + 0.4 - width / 2)
        ax.set_xticklabels(defects)
        ax.set_ylim(0, 1)
        ax.set_ylabel("P-AUROC")
        ax.legend(fontsize=7, ncol=2)
        fig.tight_layout()
        fig.savefig(a.out, dpi=100)


if __name__ == "__main__":
    main()
