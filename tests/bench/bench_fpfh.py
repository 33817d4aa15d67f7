#!/usr/bin/python3
"""Time Open3D 0.16 (estimate_normals + compute_fpfh_feature) against bench_fpfh.c, side by side.

    /usr/bin/python3 tests/bench/bench_fpfh.py --c build/tests/bench/bench_fpfh [--n 20000 100000] [--threads 1]

The cloud: n float32 points on a torus (R = 1, r = 0.3) with Gaussian noise (sigma 0.002), written to a
temporary file that bench_fpfh reads. Parameters as BTF(FPFH) uses them with a voxel v chosen so that a
neighbourhood holds about the same number of points at every n: normals hybrid(2v, 30), FPFH
hybrid(5v, 100), v = 0.0375 sqrt(20000 / n). Open3D runs with OMP_NUM_THREADS=--threads (1 by default,
set before open3d is imported); ours runs on one thread. Prints both timings (best of 3), the ratio
(Open3D time / ours, > 1: ours is faster) and how the answers compare: normals up to rounding, signs
included (both unoriented), and the FPFH (Open3D's from its normals rounded to float32, as ours are stored:
max |diff|; points off by > 1e-3: rounding-level events (two neighbours tied at the max_nn cut within
float32 distance rounding, ours ranking float distances and Open3D double ones, or a pair feature on a
bin edge) each change one SPFH by one count and so the FPFH of its ~100 neighbours).
"""
import argparse
import os
import subprocess
import tempfile
import time

import numpy as np


def torus(n, seed=5):
    rng = np.random.default_rng(seed)
    a, b = rng.random(n) * 2 * np.pi, rng.random(n) * 2 * np.pi
    R, r = 1.0, 0.3
    p = np.c_[(R + r * np.cos(b)) * np.cos(a), (R + r * np.cos(b)) * np.sin(a), r * np.sin(b)]
    return (p + rng.normal(scale=0.002, size=p.shape)).astype(np.float32)


def open3d_run(o3d, pts, rn, rf):
    best_n = best_f = 1e30
    cpu = 0.0
    for _ in range(3):
        pc = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(pts.astype(np.float64)))
        c0, t0 = time.process_time(), time.perf_counter()
        pc.estimate_normals(o3d.geometry.KDTreeSearchParamHybrid(radius=rn, max_nn=30))
        t1 = time.perf_counter()
        c1 = time.process_time()
        # the FPFH from the float32-rounded normals, as ours sees them (untimed; values do not change the time)
        pc.normals = o3d.utility.Vector3dVector(np.asarray(pc.normals).astype(np.float32).astype(np.float64))
        c2, t2 = time.process_time(), time.perf_counter()
        f = o3d.pipelines.registration.compute_fpfh_feature(pc, o3d.geometry.KDTreeSearchParamHybrid(radius=rf,
                                                                                                       max_nn=100))
        t3 = time.perf_counter()
        cpu = (c1 - c0 + time.process_time() - c2) / (t1 - t0 + t3 - t2)
        best_n, best_f = min(best_n, t1 - t0), min(best_f, t3 - t2)
    return best_n, best_f, cpu, np.asarray(pc.normals), np.asarray(f.data).T


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, nargs="+", default=[20_000, 100_000])
    ap.add_argument("--threads", type=int, default=1, help="OMP_NUM_THREADS for Open3D")
    ap.add_argument("--c", required=True, help="path of the built bench_fpfh binary")
    args = ap.parse_args()
    os.environ["OMP_NUM_THREADS"] = str(args.threads)
    import open3d as o3d  # after OMP_NUM_THREADS is set

    with tempfile.TemporaryDirectory() as tmp:
        for n in args.n:
            pts = torus(n)
            v = 0.0375 * np.sqrt(20_000 / n)
            rn, rf = 2 * v, 5 * v
            src, out = os.path.join(tmp, "pts.f32"), os.path.join(tmp, "out.f32")
            pts.tofile(src)
            on, of, cpu, o_nrm, o_feat = open3d_run(o3d, pts, rn, rf)
            print(f"Open3D {o3d.__version__} n {n} threads {args.threads} (cpu/wall {cpu:.2f}) "
                  f"normals_s {on:.4f} fpfh_s {of:.4f} total_s {on + of:.4f}")
            res = subprocess.run([args.c, src, str(rn), "30", str(rf), "100", out], check=True, capture_output=True,
                                 text=True).stdout.split()
            cb, cn, cf = float(res[4]), float(res[6]), float(res[8])
            # Open3D builds its kd-tree inside each call: count ours (built once, shared) in the total
            print(f"ours         n {n} threads 1 build_s {cb:.4f} normals_s {cn:.4f} fpfh_s {cf:.4f} "
                  f"total_s {cb + cn + cf:.4f} peak_rss_mb {res[10]}")
            raw = np.fromfile(out, dtype=np.float32)
            nrm, feat = raw[:3 * n].reshape(n, 3), raw[3 * n:].reshape(n, 33)
            dots = np.sum(nrm * o_nrm, axis=1)
            diff = np.abs(feat - o_feat).max(axis=1)
            print(f"  normals: min dot {dots.min():.9f}, opposite signs {(dots < 0).sum()}; "
                  f"FPFH: max |diff| {diff.max():.3g}, points off by > 1e-3: {(diff > 1e-3).sum()} of {n}")
            print(f"  speed-up vs Open3D: normals {on / (cn + cb):.2f}x  fpfh {of / cf:.2f}x  "
                  f"total {(on + of) / (cb + cn + cf):.2f}x")


if __name__ == "__main__":
    main()
