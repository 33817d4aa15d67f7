#!/usr/bin/python3
"""Time scipy's cKDTree (build + query(k) of every point, workers=1) against bench_knn.c.

    /usr/bin/python3 tests/bench/bench_knn.py [--n 100000] [--k 32] [--c build/tests/bench/bench_knn]

Two clouds: the unit cube of bench_knn.c's integer recipe (splitmix64, regenerated here) and a torus surface
(a scanned-object-like 2-D manifold, written to a temporary float32 file that bench_knn reads).
With --c, runs the C benchmark on the same points, checks the checksums agree and prints the time
ratios (scipy / ours).
"""
import argparse
import os
import subprocess
import tempfile
import time

import numpy as np
from scipy.spatial import cKDTree


def mix(j):
    """splitmix64 of a uint64 array (wrapping arithmetic), as mix() in bench_knn.c."""
    with np.errstate(over="ignore"):
        z = (j + np.uint64(1)) * np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def cube(n):
    j = np.arange(3 * n, dtype=np.uint64)
    return ((mix(j) >> np.uint64(40)).astype(np.float32) / np.float32(16777216.0)).reshape(n, 3)


def torus(n, seed=5):
    rng = np.random.default_rng(seed)
    a, b = rng.random(n) * 2 * np.pi, rng.random(n) * 2 * np.pi
    R, r = 1.0, 0.3
    p = np.c_[(R + r * np.cos(b)) * np.cos(a), (R + r * np.cos(b)) * np.sin(a), r * np.sin(b)]
    return p.astype(np.float32)


def scipy_run(pts, k):
    best_b = best_q = 1e30
    for _ in range(3):
        t0 = time.perf_counter()
        tree = cKDTree(pts)
        t1 = time.perf_counter()
        d, i = tree.query(pts, k=k, workers=1)
        t2 = time.perf_counter()
        best_b, best_q = min(best_b, t1 - t0), min(best_q, t2 - t1)
    return best_b, best_q, float(np.sum(d.astype(np.float64) ** 2)), int(i.sum())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--k", type=int, default=32)
    ap.add_argument("--c", help="path of the built bench_knn binary")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for name, pts in (("cube", cube(args.n)), ("torus", torus(args.n))):
            b, q, sd2, sidx = scipy_run(pts, args.k)
            print(f"scipy cKDTree {name} n {args.n} k {args.k} build_s {b:.4f} query_s {q:.4f} "
                  f"sum_d2 {sd2:.10g} sum_idx {sidx}")
            if not args.c:
                continue
            cmd = [args.c, str(args.n), str(args.k)]
            if name != "cube":
                path = os.path.join(tmp, name + ".f32")
                pts.tofile(path)
                cmd.append(path)
            out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
            f = out.split()
            cb, cq, cd2, cidx = float(f[6]), float(f[8]), float(f[10]), int(f[12])
            print(f"ours          {name} n {args.n} k {args.k} build_s {cb:.4f} query_s {cq:.4f} "
                  f"sum_d2 {cd2:.10g} sum_idx {cidx}")
            print(f"  checksums: rel. diff of sum_d2 {abs(cd2 - sd2) / sd2:.1e}, sum_idx "
                  f"{'equal' if cidx == sidx else 'differs'}"
                  + ("" if cidx == sidx else " (near-ties: ours ranks float32 squared distances, scipy float64 ones)"))
            print(f"  speed-up vs scipy: build {b / cb:.2f}x  query {q / cq:.2f}x  total {(b + q) / (cb + cq):.2f}x")


if __name__ == "__main__":
    main()
