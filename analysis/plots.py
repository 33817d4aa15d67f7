#!/usr/bin/python3
"""Every plot of a results file in one command: the one-page summary, per-class bars, variant
curves for each swept key, and ROC curves per class (object and point level), as PNG in one folder,
with plots.json listing every PNG and the numbers it shows.

    analysis/plots.py RESULTS.h5 [--out DIR] [--max-roc-variants N] [--no-points]

DIR defaults to RESULTS-plots (the results file minus .h5). ROC curves are drawn for the first N
variants (default 4; a long sweep would make hundreds of them: plot_roc.py --variant V draws
others). Needs /usr/bin/python3 with h5py and matplotlib (Debian: python3-h5py python3-matplotlib).
"""
import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ad3dres  # noqa: E402
import plot_classes  # noqa: E402
import plot_roc  # noqa: E402
import plot_variants  # noqa: E402
import summary  # noqa: E402


def make_all(results, out, max_roc_variants=4, points=True):
    res = ad3dres.Results(results)
    os.makedirs(out, exist_ok=True)
    variants = list(dict.fromkeys(v for ds in res.datasets() for v in res.variants(ds)))
    index = {
        "results": os.path.abspath(results),
        "summary": summary.draw(res, os.path.join(out, "summary.png")),
        "classes": plot_classes.draw(res, out),
        "variants": plot_variants.draw(res, out),
        "roc": plot_roc.draw(res, out, variants[:max_roc_variants], points),
        "roc_variants_left_out": variants[max_roc_variants:],
    }
    with open(os.path.join(out, "plots.json"), "w") as f:
        json.dump(index, f, indent=1)
    return index


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("results")
    ap.add_argument("--out", help="folder for the PNGs (default: RESULTS-plots)")
    ap.add_argument("--max-roc-variants", type=int, default=4)
    ap.add_argument("--no-points", action="store_true", help="object-level ROC curves only")
    a = ap.parse_args()
    out = a.out or (a.results[:-3] if a.results.endswith(".h5") else a.results) + "-plots"
    index = make_all(a.results, out, a.max_roc_variants, not a.no_points)
    pngs = [index["summary"]["png"]] + [d["png"] for k in ("classes", "variants", "roc") for d in index[k]]
    print(f"{len(pngs)} plot(s) in {out}/ (index: {os.path.join(out, 'plots.json')})")


if __name__ == "__main__":
    main()
