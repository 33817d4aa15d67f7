#!/usr/bin/python3
"""Variant curves: the mean I-AUROC and P-AUROC over classes against the values of a swept config
key (e.g. the mask ratio or the number of iterations), one line per method, one figure per dataset,
swept key and combination of the other swept keys: variants_<dataset>_<key>[_<others>].png. The
numbers are those of `ad3d report --group-by KEY`.

    analysis/plot_variants.py RESULTS.h5 [--key KEY ...] [--out DIR] [--json FILE]

Without --key, every swept key. --json writes the numbers drawn: [{"png", "dataset", "key", "others",
"values": [...], "i_auroc": {method: [mean per value]}, "p_auroc": {...}, "counts": {method: [classes
averaged per value]}}].
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

METRICS = (("i_auroc", "I-AUROC"), ("p_auroc", "P-AUROC"))


def resolve_key(res, key):
    """A swept key by its full name or by its last part when that is unique."""
    keys = res.swept_keys()
    if key in keys:
        return key
    hits = [k for k in keys if k.endswith("." + key)]
    if len(hits) != 1:
        raise SystemExit(f"{res.path}: --key {key}: {'several' if hits else 'no'} swept key(s) match; "
                         f"swept keys: {', '.join(keys) or '(none)'}")
    return hits[0]


def curves(res, dataset, key):
    """{others: {"values": [...], metric: {method: [mean...]}, "counts": {...}}} for one key."""
    groups = {}
    for v in res.variants(dataset):
        params = res.select(dataset=dataset, variant=v)[0].params
        if key not in params:
            continue
        others = ",".join(f"{k}={x}" for k, x in params.items() if k != key)
        groups.setdefault(others, []).append((params[key], v))
    out = {}
    for others, items in groups.items():
        values = list(dict.fromkeys(val for val, _ in items))
        values.sort(key=ad3dres.value_sort_key(values))
        variant_of = {val: v for val, v in items}
        g = {"values": values, "counts": {}}
        for metric, _ in METRICS:
            g[metric] = {}
            for m in res.methods(dataset):
                means = [res.class_mean(dataset, m, variant_of[val], metric) for val in values]
                g[metric][m] = [mu for mu, _ in means]
                g["counts"][m] = [n for _, n in means]
        out[others] = g
    return out


def draw(res, out_dir, keys=None):
    os.makedirs(out_dir, exist_ok=True)
    keys = [resolve_key(res, k) for k in keys] if keys else res.swept_keys()
    drawn = []
    for ds in res.datasets():
        for key in keys:
            for others, g in curves(res, ds, key).items():
                values = g["values"]
                numeric = all(_is_num(v) for v in values)
                xs = [float(v) for v in values] if numeric else list(range(len(values)))
                fig, axes = plt.subplots(1, 2, figsize=(10, 4))
                for ax, (metric, title) in zip(axes, METRICS):
                    for m, ys in g[metric].items():
                        ax.plot(xs, [y if math.isfinite(y) else float("nan") for y in ys], "o-", label=m)
                    ax.set_xlabel(key)
                    ax.set_ylabel(f"mean {title} over classes")
                    ax.grid(alpha=0.3)
                    if not numeric:
                        ax.set_xticks(xs)
                        ax.set_xticklabels(values, rotation=30, ha="right")
                axes[1].legend(fontsize="small")
                fig.suptitle(f"{ds}: {key}" + (f" ({others})" if others else ""))
                fig.tight_layout()
                name = f"variants_{ad3dres.slug(ds)}_{ad3dres.slug(key)}" + (f"_{ad3dres.slug(others)}" if others else "")
                png = os.path.join(out_dir, name + ".png")
                fig.savefig(png, dpi=100)
                plt.close(fig)
                drawn.append(dict(g, png=png, dataset=ds, key=key, others=others))
    return drawn


def _is_num(v):
    try:
        float(v)
        return True
    except ValueError:
        return False


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("results")
    ap.add_argument("--key", action="append", help="a swept key (repeatable; default: every swept key)")
    ap.add_argument("--out", default=".")
    ap.add_argument("--json")
    a = ap.parse_args()
    res = ad3dres.Results(a.results)
    data = draw(res, a.out, a.key)
    if not data:
        print(f"{a.results}: no sweep (every task has variant \"default\"): no curve to draw", file=sys.stderr)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(data, f, indent=1)
    for d in data:
        print(d["png"])


if __name__ == "__main__":
    main()
