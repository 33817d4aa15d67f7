#!/usr/bin/python3
"""ROC curves per class, from the scores stored in a results file: one panel per class, one curve
per method, the area under each curve in the legend. Object level (one point per test sample) and
point level (every point of every test sample of the class, as P-AUROC counts them). One PNG per
(dataset, variant, level): roc_<level>_<dataset>_<variant>.png.

    analysis/plot_roc.py RESULTS.h5 [--variant V ...] [--no-points] [--out DIR] [--json FILE]

The areas are computed here from the stored scores (trapezoids under the curve, tied scores one
step), so they check the stored I-AUROC / P-AUROC. --json writes, per PNG: {"png", "dataset",
"variant", "level", "auc": {task key: area}, "stored": {task key: stored metric}}.
"""
import argparse
import json
import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ad3dres  # noqa: E402

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

MAX_DRAWN = 2000  # points of a curve drawn (the area uses them all)


def thin(fpr, tpr):
    if len(fpr) <= MAX_DRAWN:
        return fpr, tpr
    idx = np.unique(np.r_[np.linspace(0, len(fpr) - 1, MAX_DRAWN).astype(int), len(fpr) - 1])
    return fpr[idx], tpr[idx]


def draw_one(res, dataset, variant, level, out_dir):
    classes, methods = res.classes(dataset), res.methods(dataset)
    ncol = min(4, len(classes))
    nrow = math.ceil(len(classes) / ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(3.2 * ncol, 3.0 * nrow), squeeze=False)
    data = {"dataset": dataset, "variant": variant, "level": level, "auc": {}, "stored": {}}
    stored_metric = "i_auroc" if level == "object" else "p_auroc"
    for i, cls in enumerate(classes):
        ax = axes[i // ncol][i % ncol]
        for m in methods:
            for t in res.select(dataset=dataset, variant=variant, method=m, cls=cls):
                sc = res.scores(t.key) if t.ok else None
                if sc is None:
                    continue
                labels, scores = (sc.label, sc.object_score) if level == "object" else (sc.point_label, sc.point_score)
                curve = ad3dres.roc_curve(labels, scores)
                if curve is None:  # one class of labels only: no curve
                    continue
                area = ad3dres.auc(*curve)
                data["auc"][t.key] = area
                data["stored"][t.key] = getattr(t, stored_metric)
                ax.plot(*thin(*curve), label=f"{m} {area:.3f}", linewidth=1.2)
        ax.plot([0, 1], [0, 1], color="gray", linewidth=0.6, linestyle="--")
        ax.set_title(cls, fontsize="medium")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1.01)
        ax.legend(fontsize="x-small", loc="lower right")
        if i % ncol == 0:
            ax.set_ylabel("true positive rate")
        if i // ncol == nrow - 1:
            ax.set_xlabel("false positive rate")
    for j in range(len(classes), nrow * ncol):
        axes[j // ncol][j % ncol].axis("off")
    fig.suptitle(f"{level}-level ROC, {dataset}, variant {variant}")
    fig.tight_layout()
    png = os.path.join(out_dir, f"roc_{level}_{ad3dres.slug(dataset)}_{ad3dres.slug(variant)}.png")
    fig.savefig(png, dpi=90)
    plt.close(fig)
    data["png"] = png
    return data


def draw(res, out_dir, variants=None, points=True):
    os.makedirs(out_dir, exist_ok=True)
    levels = ("object", "point") if points else ("object",)
    return [draw_one(res, ds, v, level, out_dir) for ds in res.datasets() for v in res.variants(ds)
            if variants is None or v in variants for level in levels]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("results")
    ap.add_argument("--variant", action="append", help="only this variant (repeatable; default: every variant)")
    ap.add_argument("--no-points", action="store_true", help="object level only")
    ap.add_argument("--out", default=".")
    ap.add_argument("--json")
    a = ap.parse_args()
    data = draw(ad3dres.Results(a.results), a.out, a.variant, not a.no_points)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(data, f, indent=1)
    for d in data:
        print(d["png"])


if __name__ == "__main__":
    main()
