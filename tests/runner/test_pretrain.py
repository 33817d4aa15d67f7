#!/usr/bin/python3
"""End-to-end tests of `ad3d pretrain` under mpirun: data parallelism, resume, progress, errors, fine-tuning.

Each test is one ctest entry: test_pretrain.py NAME --ad3d BIN [--ad3d-run BIN] --mpirun MPIRUN --workdir DIR,
where BIN runs `BIN pretrain ARGS` and `BIN run ARGS` (the ad3d program, or tests/runner/pretrain_driver.c).
Checkpoints are read with h5py alone (src/store/FORMAT.md, "Checkpoints"). Exits non-zero with a message on
the first failed check.
"""
import argparse
import os
import shutil
import signal
import subprocess
import sys
import time

import h5py
import numpy as np

A = None  # parsed arguments

# a model small enough for seconds per run, exercising every part of the network
TINY = ["npoints=256", "ngroups=16", "group_size=16", "width=32", "depth=2", "heads=2", "decoder_depth=1",
        "decoder_heads=2", "mlp_ratio=2", "pe_dim1=16", "pe_dim2=32", "pe_dim3=32", "pos_dim=16",
        "warmup_epochs=1", "micro_batch=4", "batch=8", "lr=0.002"]


def fail(msg):
    print("FAIL:", msg, file=sys.stderr)
    sys.exit(1)


def check(cond, msg):
    if not cond:
        fail(msg)


def cmd(np_, *args):
    base = [A.ad3d, "pretrain"] + list(args)
    return base if np_ is None else [A.mpirun, "--oversubscribe", "-np", str(np_)] + base


def tiny_args(out, *extra):
    args = ["--output", out]
    for s in TINY:
        args += ["--set", s]
    return args + list(extra)


def run(np_, *args, expect=0):
    p = subprocess.run(cmd(np_, *args), cwd=A.workdir, capture_output=True, text=True, timeout=240)
    if expect is not None and p.returncode != expect:
        fail(f"pretrain {' '.join(args)} with {np_} ranks exited {p.returncode}, expected {expect}\n"
             f"stdout:\n{p.stdout}\nstderr:\n{p.stderr}")
    return p


def read_ckpt(path):
    """Everything in a checkpoint, by FORMAT.md's layout."""
    with h5py.File(path, "r") as f:
        check(f.attrs["format"] == b"ad3d-checkpoint", f"{path}: format attribute")
        check(f.attrs["format_version"] == 1, f"{path}: format version")
        out = {"step": int(f.attrs["step"]), "epoch": int(f.attrs["epoch"]),
               "train_config": f.attrs["train_config"].decode(),
               "config": {k: f["config"].attrs[k] for k in f["config"].attrs}}
        for g in ("params", "adam_m", "adam_v", "buffers"):
            out[g] = {k: f[g][k][...] for k in f[g]}
        for k in ("loss", "lr", "seconds"):
            out["history_" + k] = f["history"][k][...]
        n = sum(v.size for v in out["params"].values())
        check(n == int(f.attrs["nparams"]), f"{path}: {n} parameters, attribute nparams {f.attrs['nparams']}")
    return out


# Biases followed (through max-pooling and a linear layer) by a BatchNorm: their exact gradient is zero, so
# AdamW moves them by about lr per step in the direction of float rounding noise, which differs with the
# order of additions. They do not change the model's function; comparisons skip them.
NOISE_ONLY = {"pe_conv1_b", "pe_conv2_b", "pe_conv3_b"}


def rel_diff(a, b):
    """Largest |a - b| over all tensors (but NOISE_ONLY), relative to the largest |a| of each tensor."""
    worst = 0.0
    for k in a:
        if k in NOISE_ONLY:
            continue
        scale = max(float(np.max(np.abs(a[k]))), 1e-12)
        worst = max(worst, float(np.max(np.abs(a[k].astype(np.float64) - b[k]))) / scale)
    return worst


def test_ranks():
    """1 rank running every shard and 2 ranks sharing them: the same trajectory up to float rounding."""
    one = os.path.join(A.workdir, "one")
    two = os.path.join(A.workdir, "two")
    other = os.path.join(A.workdir, "other_seed")
    common = ["--corpus", "shapes:24", "--epochs", "2", "--set", "progress_seconds=0"]
    run(1, *tiny_args(one, *common))
    run(2, *tiny_args(two, *common))
    run(1, *tiny_args(other, *common, "--seed", "1"))
    a, b, c = (read_ckpt(os.path.join(d, "last.h5")) for d in (one, two, other))
    check(a["step"] == b["step"] == 6, f"steps {a['step']} {b['step']}: expected 2 epochs x 3 steps")
    check(a["train_config"] == b["train_config"], "train_config differs between 1 and 2 ranks")
    la, lb = a["history_loss"], b["history_loss"]
    check(np.allclose(la, lb, rtol=1e-4, atol=0), f"epoch losses 1 rank {la} vs 2 ranks {lb}")
    # 1e-2: besides rounding, a ReLU whose input lies within rounding of 0 can switch for one point and move
    # a tensor by a real, if tiny, gradient step (seen: 1.6e-3 on pe_bn1_b after an exactly equivalent
    # change of summation order in BatchNorm); another seed differs by O(1) (checked below)
    for g in ("params", "adam_m", "adam_v"):
        d = rel_diff(a[g], b[g])
        check(d < 1e-2, f"{g}: 1 vs 2 ranks differ by {d:.3g} (relative to each tensor's largest value)")
    # running statistics: variances relatively; means (near 0, moved by the NOISE_ONLY biases they include)
    # on the scale of their channel's standard deviation
    for bn in ("pe_bn1", "pe_bn2"):
        va, vb = a["buffers"][bn + "_var"], b["buffers"][bn + "_var"]
        check(np.max(np.abs(va - vb)) <= 1e-4 * np.max(va), f"{bn}_var differs between 1 and 2 ranks")
        dm = np.abs(a["buffers"][bn + "_mean"] - b["buffers"][bn + "_mean"]) / np.sqrt(va)
        check(np.max(dm) < 1e-3, f"{bn}_mean differs by {np.max(dm):.3g} standard deviations")
    # the comparison has teeth: another seed is far away
    d = rel_diff(a["params"], c["params"])
    check(d > 0.1, f"another seed gives parameters within {d:.3g}: the comparison cannot fail")
    check(la[1] < la[0], f"loss did not fall: {la}")
    print(f"1 vs 2 ranks: losses {la} / {lb}; params differ by {rel_diff(a['params'], b['params']):.2e}, "
          f"another seed by {d:.2e}")


def kill_rank(out, rank):
    """kill -9 the rank process (a child of mpirun) whose command line names the folder out."""
    pids = subprocess.run(["pgrep", "-f", "--", f"--output {out}"], capture_output=True, text=True).stdout.split()
    for pid in pids:
        try:
            env = open(f"/proc/{pid}/environ", "rb").read().split(b"\0")
        except OSError:
            continue
        if f"OMPI_COMM_WORLD_RANK={rank}".encode() in env:
            os.kill(int(pid), signal.SIGKILL)
            return
    fail(f"rank {rank} of the run writing {out} not found among {pids}")


def test_resume():
    """kill -9 after the first checkpoint, rerun: the result equals an uninterrupted run bit for bit."""
    full = os.path.join(A.workdir, "full")
    cut = os.path.join(A.workdir, "cut")
    common = ["--corpus", "shapes:48", "--epochs", "6", "--set", "progress_seconds=0"]
    run(1, *tiny_args(full, *common))
    p = subprocess.Popen(cmd(1, *tiny_args(cut, *common)), cwd=A.workdir, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, start_new_session=True)
    last = os.path.join(cut, "last.h5")
    t0 = time.time()
    while not os.path.exists(last) and p.poll() is None and time.time() - t0 < 120:
        time.sleep(0.005)
    kill_rank(cut, 0)
    try:
        p.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        p.wait()
    check(p.returncode != 0, "the run finished before it could be killed: make it longer")
    done = read_ckpt(last)["epoch"]
    check(1 <= done < 6, f"killed run's checkpoint is at epoch {done}")
    r = run(1, *tiny_args(cut, *common))
    check(f"resuming from {last} after epoch {done}" in r.stderr, f"no resume message:\n{r.stderr}")
    a, b = read_ckpt(os.path.join(full, "last.h5")), read_ckpt(last)
    check(a["step"] == b["step"] and a["epoch"] == b["epoch"] == 6, "steps or epochs differ after resume")
    for g in ("params", "adam_m", "adam_v", "buffers"):
        for k in a[g]:
            check(np.array_equal(a[g][k].view(np.uint32), b[g][k].view(np.uint32)),
                  f"{g}/{k} differs between the resumed and the uninterrupted run")
    check(np.array_equal(a["history_loss"], b["history_loss"]), "loss history differs after resume")
    check(np.array_equal(a["history_lr"], b["history_lr"]), "lr history differs after resume")
    # a finished folder: rerunning does nothing; other options are refused; --no-resume starts over
    r = run(1, *tiny_args(cut, *common))
    check("6 epochs done" in r.stderr, f"rerun of a finished run:\n{r.stderr}")
    r = run(1, *tiny_args(cut, *common, "--set", "lr=0.003"), expect=1)
    check("trained with other options" in r.stderr and "lr = " in r.stderr, f"changed options:\n{r.stderr}")
    r = run(1, *tiny_args(cut, *common, "--set", "lr=0.003", "--epochs", "1", "--no-resume"))
    check(read_ckpt(last)["epoch"] == 1, "--no-resume did not start over")
    print(f"resumed after epoch {done}: bit-identical to the uninterrupted run")


def test_progress():
    """Progress lines, the checkpoints kept, the history, the small preset's sizes."""
    out = os.path.join(A.workdir, "prog")
    r = run(1, *tiny_args(out, "--corpus", "shapes:16", "--epochs", "2", "--set", "save_every=1",
                          "--set", "progress_seconds=0.000001"))
    for want in ("epoch 1/2 step 1/2", "epoch 2/2 done, steps 2/2", "loss ", "clouds/s", "ETA ", "2 epochs done"):
        check(want in r.stderr, f"progress output lacks {want!r}:\n{r.stderr}")
    for name in ("last.h5", "epoch-0001.h5", "epoch-0002.h5"):
        check(os.path.exists(os.path.join(out, name)), f"no {name}")
    c = read_ckpt(os.path.join(out, "last.h5"))
    e1 = read_ckpt(os.path.join(out, "epoch-0001.h5"))
    check(e1["epoch"] == 1 and len(e1["history_loss"]) == 1 and len(c["history_loss"]) == 2, "history lengths")
    check(np.all(np.isfinite(c["history_loss"])) and np.all(c["history_seconds"] > 0), "history values")
    check(c["config"]["width"] == 32 and c["config"]["depth"] == 2, f"stored config {c['config']}")
    # the small preset, quiet: its model is mae_config_small
    r = run(1, "--preset", "small", "--output", os.path.join(A.workdir, "small"), "--corpus", "shapes:32",
            "--epochs", "1", "--quiet")
    check(r.stderr.strip() == "", f"--quiet printed:\n{r.stderr}")
    s = read_ckpt(os.path.join(A.workdir, "small", "last.h5"))
    want = {"width": 128, "depth": 4, "heads": 4, "decoder_depth": 2, "pe_dim1": 32, "pe_dim3": 128, "pos_dim": 64}
    check(all(s["config"][k] == v for k, v in want.items()), f"small preset config {s['config']}")
    check(s["step"] == 1, f"small preset: batch 32 over 32 shapes is 1 step, got {s['step']}")


def test_errors():
    out = os.path.join(A.workdir, "err")
    r = run(1, "--set", "bogus=1", "--output", out, expect=2)
    check("unknown option \"bogus\"" in r.stderr, r.stderr)
    r = run(None, *tiny_args(out, "--set", "micro_batch=3"), expect=2)
    check("micro_batch 3 does not divide batch 8" in r.stderr, r.stderr)
    r = run(None, "--preset", "huge", expect=2)
    check("unknown preset" in r.stderr, r.stderr)
    r = run(1, *tiny_args(out, "--corpus", os.path.join(A.workdir, "nowhere")), expect=1)
    check("nowhere" in r.stderr and "not a folder" in r.stderr, r.stderr)
    r = run(2, *tiny_args(out, "--corpus", "shapes:4"), expect=1)
    check("fewer clouds than a batch of 8" in r.stderr, r.stderr)
    # an unreadable file in a folder corpus: every rank stops, the message names the file
    bad = os.path.join(A.workdir, "badcorpus")
    os.makedirs(bad, exist_ok=True)
    for i in range(8):
        np.save(os.path.join(bad, f"c{i}.npy"), np.random.default_rng(i).normal(size=(300, 3)).astype("<f4"))
    with open(os.path.join(bad, "c3.npy"), "wb") as f:
        f.write(b"\x93NUMPY garbage")
    r = run(2, *tiny_args(out, "--corpus", bad, "--epochs", "1", "--no-resume"), expect=1)
    check("c3.npy" in r.stderr, f"unreadable file not named:\n{r.stderr}")
    r = run(None, "--help")
    check("usage: [mpirun -np N] ad3d pretrain" in r.stdout, r.stdout)
    r = run(None, "--options")
    check("micro_batch" in r.stdout and "corpus" in r.stdout, r.stdout)


def write_pcd(path, pts):
    with open(path, "w") as f:
        f.write("# .PCD v0.7\nVERSION 0.7\nFIELDS x y z\nSIZE 4 4 4\nTYPE F F F\nCOUNT 1 1 1\n")
        f.write(f"WIDTH {len(pts)}\nHEIGHT 1\nVIEWPOINT 0 0 0 1 0 0 0\nPOINTS {len(pts)}\nDATA ascii\n")
        for p in pts:
            f.write(f"{p[0]:.6f} {p[1]:.6f} {p[2]:.6f}\n")


def test_finetune():
    """--init: the starting checkpoint's weights and architecture, a new optimiser, a folder corpus."""
    base = os.path.join(A.workdir, "base")
    run(1, *tiny_args(base, "--corpus", "shapes:16", "--epochs", "1", "--set", "progress_seconds=0"))
    data = os.path.join(A.workdir, "class_train")
    os.makedirs(os.path.join(data, "sub"), exist_ok=True)
    rng = np.random.default_rng(0)
    for i in range(4):  # ellipsoids in mm, two as .npy (one in a sub-folder), two as .pcd
        u = rng.normal(size=(2000, 3))
        u /= np.linalg.norm(u, axis=1, keepdims=True)
        pts = (u * [30, 20, 10] + [100, 0, 5]).astype("<f4")
        if i < 2:
            np.save(os.path.join(data, "sub" if i else ".", f"s{i}.npy"), pts)
        else:
            write_pcd(os.path.join(data, f"s{i}.pcd"), pts)
    tuned = os.path.join(A.workdir, "tuned")
    r = run(1, "--init", os.path.join(base, "last.h5"), "--output", tuned, "--corpus", data, "--epochs", "3",
            "--set", "batch=4", "--set", "micro_batch=2", "--set", "mask_ratio=0.4", "--set", "npoints=512",
            "--set", "ngroups=16")
    check("starting from the weights of" in r.stderr and "4 files under" in r.stderr, r.stderr)
    b, t = read_ckpt(os.path.join(base, "last.h5")), read_ckpt(os.path.join(tuned, "last.h5"))
    check(t["config"]["width"] == 32 and t["config"]["depth"] == 2, "architecture not taken from --init")
    check(abs(t["config"]["mask_ratio"] - 0.4) < 1e-12 and t["config"]["npoints"] == 512, "run's mask/npoints")
    check(t["step"] == 3, f"optimiser not reset: step {t['step']} after 3 epochs of 1 step")
    flat_b = np.concatenate([v.ravel() for k, v in sorted(b["params"].items())])
    flat_t = np.concatenate([v.ravel() for k, v in sorted(t["params"].items())])
    moved = np.linalg.norm(flat_t - flat_b) / np.linalg.norm(flat_b)
    check(0 < moved < 0.1, f"fine-tuning moved the weights by {moved:.3g} of their norm (3 small steps)")


def test_methods():
    """The Point-MAE baselines in `ad3d run` (--ad3d-run: the ad3d program or pretrain_driver, whose edge
    installs the checkpoint loader): a checkpoint from pretrain, three methods on two classes of the quick
    dataset under 2 ranks, and a clear task failure without a checkpoint."""
    check(A.ad3d_run, "the methods test needs --ad3d-run")
    ck = os.path.join(A.workdir, "pm")
    run(1, *tiny_args(ck, "--corpus", "shapes:16", "--epochs", "1"))
    model = os.path.join(ck, "last.h5")
    sets = []
    for m in ("patchcore_pointmae", "m3dm", "reg3dad"):
        sets += ["--set", f"{m}.checkpoint={model}", "--set", f"{m}.num_group=128", "--set", f"{m}.group_size=32"]
    sets += ["--set", "reg3dad.pointmae=true", "--set", "patchcore_pointmae.register=false"]
    res = os.path.join(A.workdir, "pm.h5")
    p = subprocess.run([A.mpirun, "--oversubscribe", "-np", "2", A.ad3d_run, "run", "--methods",
                        "patchcore_pointmae,m3dm,reg3dad", "--classes", "bowl0,cup0", "--output", res, "--quiet",
                        "--no-report"] + sets, cwd=A.workdir, capture_output=True, text=True, timeout=280)
    check(p.returncode == 0, f"ad3d run exited {p.returncode}:\n{p.stdout}\n{p.stderr}")
    with h5py.File(res, "r") as f:
        rows = [r for r in f["tasks"][...] if r["committed"] == 1]
    keys = sorted(r["key"].decode() for r in rows)
    check(len(rows) == 6 and all(r["status"] == 0 for r in rows), f"tasks {keys}")
    check(all(0 <= r["i_auroc"] <= 1 and 0 <= r["p_auroc"] <= 1 for r in rows), "metrics out of range")
    bad = os.path.join(A.workdir, "nockpt.h5")
    p = subprocess.run([A.ad3d_run, "run", "--methods", "m3dm", "--classes", "bowl0", "--output", bad, "--quiet",
                        "--no-report"], cwd=A.workdir, capture_output=True, text=True, timeout=120)
    check(p.returncode == 1, f"a task without a checkpoint: exit {p.returncode}\n{p.stderr}")
    with h5py.File(bad, "r") as f:
        row = [r for r in f["tasks"][...] if r["committed"] == 1][0]
    check(row["status"] == 1 and b"m3dm.checkpoint is not set" in row["error"], f"error text {row['error']}")


def main():
    global A
    ap = argparse.ArgumentParser()
    ap.add_argument("test")
    ap.add_argument("--ad3d", required=True)
    ap.add_argument("--mpirun", required=True)
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--ad3d-run", default=None, help="the ad3d program, for `ad3d run` (test methods)")
    A = ap.parse_args()
    shutil.rmtree(A.workdir, ignore_errors=True)
    os.makedirs(A.workdir)
    {"ranks": test_ranks, "resume": test_resume, "progress": test_progress, "errors": test_errors,
     "finetune": test_finetune, "methods": test_methods}[A.test]()
    print("ok")


if __name__ == "__main__":
    main()
