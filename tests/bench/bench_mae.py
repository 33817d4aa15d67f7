#!/usr/bin/python3
"""bench_mae.py - one Point-MAE training step in PyTorch (CPU, float32) beside ad3d's bench_mae.

    /usr/bin/python3 bench_mae.py paper|small [batch [steps [threads]]] [--ad3d path/to/bench_mae]

Same model (tests/fixtures/nn/make_mae_fixture.py's PointMAE, Point-MAE's modules; drop-path off here, a
negligible cost), same configuration, batch, number of timed steps (after one warm-up) and thread count
(torch.set_num_threads; OPENBLAS_NUM_THREADS for ad3d). Inputs are random clouds grouped as Point-MAE
does; the step is forward, backward and AdamW. With --ad3d, runs ad3d's bench_mae with the same
arguments and prints the ratio of samples/s (ad3d / PyTorch).
"""
import importlib.util
import os
import re
import subprocess
import sys
import time

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location("mae_fixture", os.path.join(HERE, "..", "fixtures", "nn",
                                                                          "make_mae_fixture.py"))
mf = importlib.util.module_from_spec(spec)
spec.loader.exec_module(mf)

PAPER = dict(npoints=1024, ngroups=64, group_size=32, width=384, depth=12, heads=6, decoder_depth=4,
             decoder_heads=6, mlp_ratio=4, pe_dim1=128, pe_dim2=256, pe_dim3=512, pos_dim=128, mask_ratio=0.6,
             drop_path_rate=0.1)
SMALL = dict(PAPER, width=128, depth=4, heads=4, decoder_depth=2, decoder_heads=4, pe_dim1=32, pe_dim2=64,
             pe_dim3=128, pos_dim=64)


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    ad3d = None
    if "--ad3d" in sys.argv:
        ad3d = sys.argv[sys.argv.index("--ad3d") + 1]
        args.remove(ad3d)
    if not args or args[0] not in ("paper", "small"):
        sys.exit(__doc__)
    cfg = PAPER if args[0] == "paper" else SMALL
    batch = int(args[1]) if len(args) > 1 else (128 if args[0] == "paper" else 32)
    steps = int(args[2]) if len(args) > 2 else 5
    threads = int(args[3]) if len(args) > 3 else torch.get_num_threads()
    torch.set_num_threads(threads)
    torch.set_default_dtype(torch.float32)

    rng = np.random.default_rng(42)
    g, k = cfg["ngroups"], cfg["group_size"]
    grouped = [mf.group(rng.uniform(-1, 1, (cfg["npoints"], 3)).astype(np.float32), g, k) for _ in range(batch)]
    neigh = torch.from_numpy(np.stack([x[0] for x in grouped]))
    center = torch.from_numpy(np.stack([x[1] for x in grouped]))
    model = mf.PointMAE(cfg).float().train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=0.05)
    m = int(np.floor(cfg["mask_ratio"] * g))
    total = 0.0
    for s in range(steps + 1):
        mask = torch.zeros(batch, g, dtype=torch.bool)
        for b in range(batch):
            mask[b, torch.from_numpy(rng.permutation(g)[:m])] = True
        t0 = time.perf_counter()
        loss = model(neigh, center, mask)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if s > 0:
            total += time.perf_counter() - t0
    step = total / steps
    print(f"pytorch {torch.__version__} {args[0]} batch {batch} threads {threads}: {step:.3f} s/step, "
          f"{batch / step:.2f} samples/s, loss {loss.item():.4f}")
    if ad3d:
        env = dict(os.environ, OPENBLAS_NUM_THREADS=str(threads))
        out = subprocess.run([ad3d, args[0], str(batch), str(steps), str(threads)], env=env, check=True,
                             capture_output=True, text=True).stdout
        print(out, end="")
        ours = float(re.search(r"samples_per_s ([0-9.]+)", out).group(1))
        print(f"ratio ad3d / pytorch: {ours / (batch / step):.2f}")


if __name__ == "__main__":
    main()
