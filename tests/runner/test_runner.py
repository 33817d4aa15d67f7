#!/usr/bin/python3
"""End-to-end tests of the ad3d program: `ad3d run` under mpirun, resume, failures, reports.

Each test is one ctest entry: test_runner.py NAME --ad3d BIN --mpirun MPIRUN --workdir DIR --repo SRC.
Results files are read with h5py alone, so these tests also check that the file is readable
without ad3d. Exits non-zero with a message on the first failed check.
"""
import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import time

import h5py
import numpy as np

A = None  # parsed arguments
KNOWN_EMBEDDED = "known: embedded:quick, embedded:anomaly_shapenet, embedded:real3d_ad"


def fail(msg):
    print("FAIL:", msg, file=sys.stderr)
    sys.exit(1)


def check(cond, msg):
    if not cond:
        fail(msg)


def ad3d_cmd(np_, *args):
    cmd = [A.ad3d] + list(args)
    if np_ is None:
        return cmd
    return [A.mpirun, "--oversubscribe", "-np", str(np_)] + cmd


def run(np_, *args, expect=0):
    p = subprocess.run(ad3d_cmd(np_, *args), cwd=A.workdir, capture_output=True, text=True, timeout=240)
    if expect is not None and p.returncode != expect:
        fail(f"{' '.join(args)} with {np_} ranks exited {p.returncode}, expected {expect}\n"
             f"stdout:\n{p.stdout}\nstderr:\n{p.stderr}")
    return p


def open_results(path):
    """As src/store/FORMAT.md says: plainly, else (a run writing or killed) in SWMR read mode."""
    try:
        return h5py.File(path, "r")
    except OSError:
        return h5py.File(path, "r", swmr=True)


def read_results(path):
    """{key: (record dict, scores dict)}: the latest committed row per key, via h5py only."""
    res = {}
    with open_results(path) as f:
        check(f.attrs["format_version"] == 1, f"{path}: format version")
        rows = f["tasks"][...]
        latest = {}
        for i, row in enumerate(rows):
            if row["committed"] == 1 and row["key"] != b"":
                latest[row["key"].decode()] = i
        samples = {k: f["samples/" + k][...] for k in ("name", "label", "object_score")}
        p_score, p_label = f["points/score"][...], f["points/label"][...]
        for key, i in latest.items():
            row = rows[i]
            rec = {n: (row[n].decode() if isinstance(row[n], bytes) else row[n]) for n in rows.dtype.names}
            sc = None
            if row["sample_start"] >= 0:
                s0, ns, p0, npt = row["sample_start"], row["nsamples"], row["point_start"], row["npoints"]
                sc = {
                    "names": [x.decode() for x in samples["name"][s0:s0 + ns]],
                    "label": samples["label"][s0:s0 + ns],
                    "object_score": samples["object_score"][s0:s0 + ns],
                    "point_score": p_score[p0:p0 + npt],
                    "point_label": p_label[p0:p0 + npt],
                }
            res[key] = (rec, sc)
    return res


def same_results(a, b, what):
    check(sorted(a) == sorted(b), f"{what}: different task keys\n{sorted(a)}\n{sorted(b)}")
    for k in a:
        ra, sa = a[k]
        rb, sb = b[k]
        for m in ("status", "i_auroc", "p_auroc", "i_ap", "p_ap", "nsamples", "npoints"):
            va, vb = ra[m], rb[m]
            check(va == vb or (np.isnan(va) and np.isnan(vb)) if isinstance(va, float) else va == vb,
                  f"{what}: {k} {m} {va} != {vb}")
        check((sa is None) == (sb is None), f"{what}: {k} scores present in one only")
        if sa is None:
            continue
        check(sa["names"] == sb["names"], f"{what}: {k} sample names differ")
        for f_ in ("label", "object_score", "point_score", "point_label"):
            check(np.array_equal(sa[f_], sb[f_]), f"{what}: {k} {f_} differ")


def job_args(output, *extra):
    """The quick job with BTF(Raw) alone: the runner's behaviour, not the methods, is under test."""
    return ["run", os.path.join(A.repo, "jobs/quick.cfg"), "--methods", "btf_raw", "--output", output, "--quiet",
            "--no-report"] + list(extra)


def test_ranks():
    """1, 2 and 3 ranks give identical metrics and identical scores, bit for bit."""
    sweep = ["--sweep", "btf_raw.test_stride=3,5"]
    results = {}
    for n in (1, 2, 3):
        out = f"r{n}.h5"
        run(n, *job_args(out, *sweep))
        results[n] = read_results(os.path.join(A.workdir, out))
        check(len(results[n]) >= 8, f"{n} ranks: only {len(results[n])} tasks")
        for k, (rec, sc) in results[n].items():
            check(rec["status"] == 0, f"{n} ranks: task {k} failed: {rec['error']}")
            check(0.0 <= rec["i_auroc"] <= 1.0 and 0.0 <= rec["p_auroc"] <= 1.0, f"{k}: metrics out of range")
            check(len(sc["point_score"]) == rec["npoints"] > 0, f"{k}: point scores missing")
    same_results(results[1], results[2], "1 vs 2 ranks")
    same_results(results[1], results[3], "1 vs 3 ranks")
    # the metrics stored are the metrics of the stored scores (sklearn as the oracle)
    from sklearn.metrics import roc_auc_score, average_precision_score
    for k, (rec, sc) in results[1].items():
        check(abs(roc_auc_score(sc["label"], sc["object_score"]) - rec["i_auroc"]) < 1e-9, f"{k}: I-AUROC")
        check(abs(roc_auc_score(sc["point_label"], sc["point_score"]) - rec["p_auroc"]) < 1e-9, f"{k}: P-AUROC")
        check(abs(average_precision_score(sc["point_label"], sc["point_score"]) - rec["p_ap"]) < 1e-9, f"{k}: P-AP")
    # ranks recorded: with 3 ranks, workers 1 and 2 ran the tasks
    ranks = {rec["rank"] for rec, _ in results[3].values()}
    check(ranks <= {1, 2} and len(ranks) >= 1, f"3 ranks: unexpected ranks {ranks}")


def start_and_kill(out, victim, after_done, extra):
    """Start a 3-rank run, wait until `after_done` tasks are reported, kill -9 one rank."""
    cmd = ad3d_cmd(3, *[a for a in job_args(out, *extra) if a != "--quiet"])
    p = subprocess.Popen(cmd, cwd=A.workdir, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                         start_new_session=True)
    done = 0
    t0 = time.time()
    for line in p.stderr:
        m = re.match(r"\[(\d+)/(\d+) done", line)
        if m:
            done = int(m.group(1))
            total = int(m.group(2))
            if done >= after_done:
                break
        if time.time() - t0 > 120:
            break
    check(done >= after_done and done < total, f"run reported {done} tasks before the kill")
    # the rank processes are children of mpirun: rank 0 is the one whose OMPI_COMM_WORLD_RANK is 0
    pids = subprocess.run(["pgrep", "-f", "--", f"--output {out}"], capture_output=True, text=True).stdout.split()
    target = None
    for pid in pids:
        try:
            env = open(f"/proc/{pid}/environ", "rb").read().split(b"\0")
        except OSError:
            continue
        if f"OMPI_COMM_WORLD_RANK={victim}".encode() in env:
            target = int(pid)
    check(target is not None, f"rank {victim} not found among {pids}")
    os.kill(target, signal.SIGKILL)
    try:
        p.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        p.wait()
    check(p.returncode != 0, "mpirun succeeded although a rank was killed")
    return done


def resume_after_kill(victim):
    sweep = ["--sweep", "btf_raw.test_stride=2,3,4,5,6,7"]
    ref = "ref.h5"
    run(1, *job_args(ref, *sweep))
    reference = read_results(os.path.join(A.workdir, ref))
    out = "killed.h5"
    done = start_and_kill(out, victim, 4, sweep)
    partial = read_results(os.path.join(A.workdir, out))  # readable with h5py after the kill
    ok = [k for k, (r, _) in partial.items() if r["status"] == 0]
    check(len(ok) >= done, f"{len(ok)} finished tasks in the file, {done} were reported done before the kill")
    for k in ok:  # what was recorded is complete and correct
        same_results({k: partial[k]}, {k: reference[k]}, f"recorded before the kill ({k})")
    p = run(2, *[a for a in job_args(out, *sweep) if a != "--quiet"])
    m = re.search(r"\((\d+) already done", p.stderr)
    check(m and int(m.group(1)) == len(ok), f"resume did not skip the {len(ok)} finished tasks:\n{p.stderr}")
    same_results(read_results(os.path.join(A.workdir, out)), reference, "resumed run vs uninterrupted run")


def test_resume_worker_killed():
    resume_after_kill(1)


def test_resume_master_killed():
    resume_after_kill(0)


def quick_root():
    run(None, "check", "embedded:quick")
    cache = os.environ.get("AD3D_CACHE")
    roots = [d for d in os.listdir(cache) if d.startswith("quick-v") and ".tmp" not in d]
    check(len(roots) >= 1, f"quick dataset not found in {cache}: {roots}")
    roots.sort(key=lambda r: int(r[len("quick-v"):]))  # older versions may be cached beside it
    return os.path.join(cache, roots[-1])


def classes_of(root):
    """The class folders of a dataset root (beside them: manifest.csv, synth.cfg)."""
    return sorted(d for d in os.listdir(root) if os.path.isdir(os.path.join(root, d)))


def test_failing_task():
    """A truncated PCD fails its task with a clear error; the other tasks finish."""
    src = quick_root()
    root = os.path.join(A.workdir, "broken")
    shutil.copytree(src, root)
    classes = classes_of(root)
    bad_cls = classes[0]
    test_dir = os.path.join(root, bad_cls, "test")
    victim = sorted(f for f in os.listdir(test_dir) if "positive" in f)[0]
    path = os.path.join(test_dir, victim)
    data = open(path, "rb").read()
    open(path, "wb").write(data[: len(data) - 100])
    p = run(2, "run", "--dataset", f"anomaly_shapenet:{root}", "--methods", "btf_raw", "--output", "broken.h5",
            "--set", "btf_raw.test_stride=5", expect=1)
    check("1 failed" in p.stderr, f"summary does not say 1 failed:\n{p.stderr}")
    res = read_results(os.path.join(A.workdir, "broken.h5"))
    check(len(res) == len(classes), f"{len(res)} tasks recorded, expected {len(classes)}")
    for k, (rec, _) in res.items():
        if f"/{bad_cls}@" in k:
            check(rec["status"] == 1, f"{k} should have failed")
            check(victim in rec["error"] and "truncated" in rec["error"], f"unclear error: {rec['error']}")
        else:
            check(rec["status"] == 0, f"{k} failed: {rec['error']}")
    check(victim in p.stdout, "the report does not list the failed task's error")


def test_cli_errors():
    cfg = os.path.join(A.workdir, "typo.cfg")
    open(cfg, "w").write('run = {\n  seed = 1;\n};\nbtf_raw = {\n  train_strid = 3;\n};\n')
    p = run(1, "run", cfg, "--output", "x.h5", expect=101)
    check("typo.cfg:5" in p.stderr and "train_strid" in p.stderr, f"unclear config error:\n{p.stderr}")
    p = run(1, "run", "--set", "run.sed=3", expect=101)
    check("run.sed" in p.stderr, f"unclear --set error:\n{p.stderr}")
    p = run(None, "run", "--bogus", expect=101)
    check("--bogus" in p.stderr, "unknown option not named")
    p = run(1, "run", "--dataset", "anomaly_shapenet:/nonexistent/x", "--output", "y.h5", expect=101)
    check("/nonexistent/x" in p.stderr, f"missing dataset folder not named:\n{p.stderr}")
    # embedded datasets: an unknown name, a layout that does not fit (refused before anything is generated;
    # these runs stop before any MPI communication, so no mpirun)
    p = run(None, "run", "--set", "datasets.quick.root=embedded:nope", "--output", "y.h5", expect=101)
    check('"embedded:nope"' in p.stderr and KNOWN_EMBEDDED in p.stderr, f"unknown embedded dataset:\n{p.stderr}")
    p = run(None, "run", "--dataset", "real3d_ad:embedded:quick", "--output", "y.h5", expect=101)
    check("layout real3d_ad does not fit embedded:quick" in p.stderr, f"layout mismatch:\n{p.stderr}")
    # the table jobs default to the embedded datasets (a contradicting layout shows the root without
    # generating it) and take the real data's folder as their header comments say
    for ds, other in (("anomaly_shapenet", "real3d_ad"), ("real3d_ad", "anomaly_shapenet")):
        cfg = os.path.join(A.repo, "jobs", ds + ".cfg")
        p = run(None, "run", cfg, "--set", f"datasets.{ds}.layout={other}", "--output", "y.h5", expect=101)
        check(f"datasets.{ds}: layout {other} does not fit embedded:{ds}" in p.stderr, f"{ds}.cfg:\n{p.stderr}")
        for how in (["--set", f"datasets.{ds}.root=/nonexistent/{ds}"], ["--dataset", f"{ds}={ds}:/nonexistent/{ds}"]):
            p = run(None, "run", cfg, *how, "--output", "y.h5", expect=101)
            check(f"datasets.{ds}.root: /nonexistent/{ds} is not a folder" in p.stderr, f"{ds}.cfg {how}:\n{p.stderr}")


def test_report():
    run(2, *job_args("new/folder/rep.h5"))  # the results file's folder is created
    md = run(None, "report", "new/folder/rep.h5").stdout
    check("I-AUROC on quick" in md and "P-AUROC on quick" in md and "| BTF(Raw) |" in md, f"markdown:\n{md}")
    res = read_results(os.path.join(A.workdir, "new/folder/rep.h5"))
    csv = run(None, "report", "new/folder/rep.h5", "--format", "csv").stdout
    rows = [l.split(",") for l in csv.splitlines() if l.startswith("BTF(Raw)")]
    check(len(rows) == 2, f"csv rows:\n{csv}")
    header = [l.split(",") for l in csv.splitlines() if l.startswith("method,")][0]
    vals = dict(zip(header[1:], map(float, rows[0][1:])))
    for k, (rec, _) in res.items():
        cls = k.split("/")[2].split("@")[0]
        check(abs(vals[cls] - rec["i_auroc"]) < 1e-6, f"csv I-AUROC of {cls}")
    mean = np.mean([r["i_auroc"] for r, _ in res.values()])
    check(abs(vals["mean"] - mean) < 1e-6, "csv mean is not the mean over classes")
    tex = run(None, "report", "new/folder/rep.h5", "--format", "latex").stdout
    check("\\begin{tabular}" in tex, "latex")
    paper = run(None, "report", "new/folder/rep.h5", "--paper").stdout
    check("BTF(Raw) (paper)" in paper and "0.493" in paper, f"--paper rows missing:\n{paper}")


def test_master_idle():
    """The waiting master sleeps between polls: its CPU time is a small part of the run's wall time."""
    wrapper = os.path.join(A.workdir, "rank0time.sh")
    with open(wrapper, "w") as f:
        f.write('#!/bin/sh\nif [ "$OMPI_COMM_WORLD_RANK" = 0 ]; then\n'
                '  exec /usr/bin/time -f "rank0 cpu %U %S wall %e" "$@"\nfi\nexec "$@"\n')
    os.chmod(wrapper, 0o755)
    args = job_args("idle.h5", "--set", "btf_raw.train_stride=1", "--set", "btf_raw.test_stride=1",
                    "--sweep", "btf_raw.topk=" + ",".join(str(k) for k in range(1, 9)))
    p = subprocess.run([A.mpirun, "--oversubscribe", "-np", "2", wrapper, A.ad3d] + args, cwd=A.workdir,
                       capture_output=True, text=True, timeout=240)
    check(p.returncode == 0, f"run failed:\n{p.stderr}")
    m = re.search(r"rank0 cpu ([\d.]+) ([\d.]+) wall ([\d.]+)", p.stderr)
    check(m is not None, f"no timing line:\n{p.stderr}")
    cpu, wall = float(m.group(1)) + float(m.group(2)), float(m.group(3))
    print(f"rank 0: {cpu:.2f} s CPU in {wall:.2f} s wall")
    check(wall > 1.0, f"the run was too short ({wall} s) to tell")
    check(cpu < 0.35 * wall, f"rank 0 kept a core busy: {cpu:.2f} s CPU in {wall:.2f} s")


def read_ppm(path):
    data = open(path, "rb").read()
    parts = data.split(b"\n", 3)
    w, h = map(int, parts[1].split())
    return np.frombuffer(parts[3], np.uint8).reshape(h, w, 3)


def test_render():
    """`ad3d render` draws a scored sample from a results file: scores left, ground truth right."""
    run(2, *job_args("render.h5"))
    res = read_results(os.path.join(A.workdir, "render.h5"))
    key = sorted(res)[0]
    p = run(None, "render", "render.h5", "--task", key, "-o", "r.png", "--panel", "200")
    png = os.path.join(A.workdir, "r.png")
    ppm = os.path.join(A.workdir, "r.ppm")
    subprocess.run(["/usr/bin/python3", os.path.join(A.repo, "tests/synth/png_decode.py"), png, ppm], check=True)
    img = read_ppm(ppm).astype(int)
    check(img.shape == (200, 400, 3), f"image shape {img.shape}")
    red = (img[..., 0] > 120) & (img[..., 1] < 80) & (img[..., 2] < 80)
    check(red[:, 200:].sum() > 0, "no anomalous (red) points in the ground-truth panel")
    check(red[:, :200].sum() < red.size, "the score panel is all red")
    grey = (abs(img[..., 0] - img[..., 1]) < 8) & (abs(img[..., 1] - img[..., 2]) < 8) & (img[..., 0] < 200)
    check(grey[:, 200:].sum() > 10 * red[:, 200:].sum(), "ground truth panel: normal points should dominate")
    p = run(None, "render", "render.h5", "--task", "nope/quick/x@default", expect=1)
    check("nope/quick/x@default" in p.stderr, f"unclear error for an unknown task:\n{p.stderr}")


def test_info():
    p = run(None, "info")
    for s in ("btf_raw", "anomaly_shapenet", "real3d_ad", "Open MPI", "OpenBLAS", "HDF5 1.", "embedded:quick",
              "embedded:anomaly_shapenet", "embedded:real3d_ad"):
        check(s in p.stdout, f"`ad3d info` lacks {s}:\n{p.stdout}")


def test_check():
    root = quick_root()
    p = run(None, "check", root)
    for cls in classes_of(root):
        check(cls in p.stdout, f"check output lacks class {cls}")
    broken = os.path.join(A.workdir, "nogt")
    shutil.copytree(root, broken)
    cls = classes_of(broken)[0]
    gt = os.path.join(broken, cls, "GT")
    removed = sorted(os.listdir(gt))[0]
    os.remove(os.path.join(gt, removed))
    p = run(None, "check", broken, expect=1)
    check(removed.replace(".txt", "") in p.stdout + p.stderr, f"missing GT not reported:\n{p.stdout}")
    # embedded datasets: in their own layout without --layout (embedded:real3d_ad is made here, ~20 s
    # once per cache), refused in another or under an unknown name
    p = run(None, "check", "embedded:real3d_ad")
    check("real3d_ad dataset at " in p.stdout and "real3d_ad-v" in p.stdout and ": 12 classes" in p.stdout
          and "\n0 problems" in p.stdout, f"check embedded:real3d_ad:\n{p.stdout}")
    p = run(None, "check", "--layout", "real3d_ad", "embedded:quick", expect=1)
    check("layout real3d_ad does not fit embedded:quick, which is in the anomaly_shapenet layout" in p.stderr,
          f"layout mismatch:\n{p.stderr}")
    # a run that generates an embedded dataset says so, once
    env = dict(os.environ, AD3D_CACHE=os.path.join(A.workdir, "fresh-cache"))
    cmd = ad3d_cmd(None, "run", "--methods", "curvature", "--classes", "cup0", "--output", "fresh.h5", "--quiet",
                   "--no-report")
    for first in (True, False):
        p = subprocess.run(cmd, cwd=A.workdir, capture_output=True, text=True, timeout=240, env=env)
        check(p.returncode == 0, f"run on a fresh cache exited {p.returncode}:\n{p.stderr}")
        said = "ad3d: generating embedded:quick into " in p.stderr
        check(said == first, f"generation notice {'missing' if first else 'repeated'}:\n{p.stderr}")
    p = run(None, "check", "embedded:nope", expect=1)
    check('"embedded:nope"' in p.stderr and KNOWN_EMBEDDED in p.stderr, f"unknown embedded dataset:\n{p.stderr}")


def main():
    global A
    ap = argparse.ArgumentParser()
    ap.add_argument("test")
    ap.add_argument("--ad3d", required=True)
    ap.add_argument("--mpirun", required=True)
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--repo", required=True)
    A = ap.parse_args()
    shutil.rmtree(A.workdir, ignore_errors=True)
    os.makedirs(A.workdir)
    globals()["test_" + A.test]()
    print(f"runner_{A.test}: passed")


if __name__ == "__main__":
    main()
