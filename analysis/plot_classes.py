#!/usr/bin/python3
"""Per-class bars: for each dataset and variant of a results file, I-AUROC and P-AUROC of every
class, one bar per method, the mean over classes last. One PNG per (dataset, variant):
classes_<dataset>_<variant>.png. Failed tasks are marked with an x at the bottom.

    analysis/plot_classes.py RESULTS.h5 [--out DIR] [--json FILE]

--json writes the numbers drawn: [{"png", "dataset", "variant", "classes", "methods",
"i_auroc": {method: [per class..., mean]}, "p_auroc": {...}, "failed": {method: [class...]}}].
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

METRICS = (("i_auroc", "I-AUROC"), ("p_auroc", "P-AUROC"))


def class_values(res, dataset, variant, method, classes, metric):
    """Per class value (NaN when missing or failed), then the mean over the classes with a value."""
    by_cls = {t.cls: t for t in res.select(dataset=dataset, variant=variant, method=method)}
    vals = [getattr(by_cls[c], metric) if c in by_cls and by_cls[c].ok else math.nan for c in classes]
    finite = [v for v in vals if math.isfinite(v)]
    return vals + [float(np.mean(finite)) if finite else math.nan]


def draw_one(res, dataset, variant, out_dir):
    classes, methods = res.classes(dataset), res.methods(dataset)
    fig, axes = plt.subplots(2, 1, figsize=(max(6.0, 0.9 * (len(classes) + 1) * max(1, len(methods)) ** 0.5 + 2), 7),
                             sharex=True)
    x = np.arange(len(classes) + 1)
    width = 0.8 / max(1, len(methods))
    data = {"dataset": dataset, "variant": variant, "classes": classes, "methods": methods, "failed": {}}
    for ax, (metric, title) in zip(axes, METRICS):
        data[metric] = {}
        for k, m in enumerate(methods):
            vals = class_values(res, dataset, variant, m, classes, metric)
            data[metric][m] = vals
            pos = x - 0.4 + width * (k + 0.5)
            ax.bar(pos, np.nan_to_num(vals, nan=0.0), width, label=m)
            failed = [c for c in classes
                      if any(not t.ok for t in res.select(dataset=dataset, variant=variant, method=m, cls=c))]
            data["failed"][m] = failed
            for c in failed:
                ax.plot(pos[classes.index(c)], 0.02, "x", color="red", markersize=8)
        ax.axhline(0.5, color="gray", linewidth=0.8, linestyle="--")
        ax.set_ylim(0, 1)
        ax.set_ylabel(title)
        ax.grid(axis="y", alpha=0.3)
    axes[-1].set_xticks(x)
    axes[-1].set_xticklabels(classes + ["mean"], rotation=45, ha="right")
    axes[0].legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize="small")
    axes[0].set_title(f"{dataset}, variant {variant}")
    fig.tight_layout()
    png = os.path.join(out_dir, f"classes_{ad3dres.slug(dataset)}_{ad3dres.slug(variant)}.png")
    fig.savefig(png, dpi=100)
    plt.close(fig)
    data["png"] = png
    return data


def draw(res, out_dir, variants=None):
    """Every (dataset, variant) of res, or only `variants`; returns what each PNG shows."""
    os.makedirs(out_dir, exist_ok=True)
    return [draw_one(res, ds, v, out_dir) for ds in res.datasets() for v in res.variants(ds)
            if variants is None or v in variants]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("results")
    ap.add_argument("--out", default=".")
    ap.add_argument("--json")
    a = ap.parse_args()
    data = draw(ad3dres.Results(a.results), a.out)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(data, f, indent=1, allow_nan=True)
    for d in data:
        print(d["png"])


if __name__ == "__main__":
    main()
