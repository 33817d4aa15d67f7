#!/usr/bin/python3
"""Time sklearn's roc_auc_score / average_precision_score on bench_auroc.c's data, and compare.

    /usr/bin/python3 tests/bench/bench_auroc.py [--n 10000000] [--levels 16777216]
                                                [--c build/tests/bench/bench_auroc]

Generates the same scores and labels as bench_auroc.c (same integer recipe), times sklearn on the
float32 and float64 scores, and with --c runs the C benchmark on the same n and prints the
differences and the time ratio (sklearn / ours).
"""
import argparse
import subprocess
import time

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score


def mix(i):
    """splitmix64 of a uint64 array (wrapping arithmetic), as mix() in bench_auroc.c."""
    with np.errstate(over="ignore"):
        z = (i + np.uint64(1)) * np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def gen(n, levels):
    h = mix(np.arange(n, dtype=np.uint64))
    u = (h >> np.uint64(40)) % np.uint64(levels)
    v = (h >> np.uint64(8)) % np.uint64(1000)
    y = ((v + (u * np.uint64(500)) // np.uint64(levels)) >= np.uint64(1000)).astype(np.uint8)
    return u.astype(np.float32) / np.float32(levels), u.astype(np.float64) / np.float64(levels), y


def timed(f, *a):
    t0 = time.perf_counter()
    r = f(*a)
    return r, time.perf_counter() - t0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=10_000_000)
    ap.add_argument("--levels", type=int, default=1 << 24)
    ap.add_argument("--c", help="path of the built bench_auroc binary")
    args = ap.parse_args()
    sf, sd, y = gen(args.n, args.levels)
    res = {}
    for name, s in (("f32", sf), ("f64", sd)):
        auc, t_auc = timed(roc_auc_score, y, s)
        apv, t_ap = timed(average_precision_score, y, s)
        res[name] = (auc, apv, t_auc, t_ap)
        print(f"sklearn {name} n {args.n} auc {auc!r} ap {apv!r} roc_auc_score_s {t_auc:.3f} "
              f"average_precision_score_s {t_ap:.3f}")
    if args.c:
        out = subprocess.run([args.c, str(args.n), str(args.levels)], check=True, capture_output=True,
                             text=True).stdout
        print(out, end="")
        for line in out.splitlines():
            f = line.split()
            name, auc, apv, sec = f[0], float(f[6]), float(f[8]), float(f[10])
            dt = "f64" if name.endswith("f64") else "f32"
            sk_auc, sk_ap, t_auc, t_ap = res[dt]
            if name.startswith("roc_auc_ap"):
                ref_t, label = t_auc + t_ap, "roc_auc_score + average_precision_score"
            elif name.startswith("roc_auc"):
                ref_t, label = t_auc, "roc_auc_score"
            else:
                ref_t, label = t_ap, "average_precision_score"
            msg = f"  {name}: |dAUC| {abs(auc - sk_auc):.2e}" if auc >= 0 else f"  {name}:"
            if apv >= 0:
                msg += f" |dAP| {abs(apv - sk_ap):.2e}"
            print(f"{msg}  speed-up vs sklearn {label}: {ref_t / sec:.1f}x")


if __name__ == "__main__":
    main()
