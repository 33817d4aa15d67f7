#!/usr/bin/python3
"""End-to-end tests of the cluster commands, without Slurm: `ad3d merge` of job array slices run
with mpirun, `ad3d status` on finished, failed, sliced and still-running jobs, and `ad3d plan`
against a brute-force event simulation of the runner's policy written here.

    test_cluster.py NAME --ad3d BIN --mpirun MPIRUN --workdir DIR --repo SRC

NAME: merge, status, plan or submit (slurm/submit.sh --dry-run). Results files are read with h5py (resultsfile.py). Exits non-zero
with a message on the first failed check.
"""
import argparse
import csv
import glob
import io
import os
import re
import shutil
import subprocess
import sys
import time

import h5py

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import resultsfile  # noqa: E402

A = None
# jobs/quick.cfg runs every method (about 30 s on 2 ranks); the commands tested here do not depend
# on the method, so the fast one keeps each run to a second: 2 variants x 5 classes = 10 tasks
METHODS = ["--methods", "btf_raw"]
SWEEP = ["--sweep", "btf_raw.test_stride=3,5"]


def fail(msg):
    print("FAIL:", msg, file=sys.stderr)
    sys.exit(1)


def check(cond, msg):
    if not cond:
        fail(msg)


def ad3d(*args, np_=None, expect=0):
    cmd = [A.ad3d] + list(args)
    if np_:
        cmd = [A.mpirun, "--oversubscribe", "-np", str(np_)] + cmd
    p = subprocess.run(cmd, cwd=A.workdir, capture_output=True, text=True, timeout=150)
    if expect is not None and p.returncode != expect:
        fail(f"ad3d {' '.join(args)} exited {p.returncode}, expected {expect}\nstdout:\n{p.stdout}\nstderr:\n{p.stderr}")
    return p


def quick_run(out, *extra, np_=2):
    ad3d("run", os.path.join(A.repo, "jobs/quick.cfg"), *METHODS, "--output", out, "--quiet", "--no-report", *extra,
         np_=np_)
    return os.path.join(A.workdir, out)


def slices(prefix, n, *extra):
    return [quick_run(f"{prefix}.slice-{i}-of-{n}.h5", "--slice", f"{i}/{n}", *extra, np_=1) for i in range(n)]


# ---------------------------------------------------------------------------------------------- merge

def test_merge():
    ref = resultsfile.read(quick_run("ref.h5", *SWEEP))
    parts = slices("arr", 3, *SWEEP)
    keys = [k for p in parts for k in resultsfile.read(p)]
    check(sorted(keys) == sorted(ref) and len(set(keys)) == len(keys), f"slices do not partition the job: {keys}")
    p = ad3d("merge", "merged.h5", *parts)
    check("10 tasks (0 failed) from 3 file(s)" in p.stderr, f"merge summary: {p.stderr}")
    merged = resultsfile.read(os.path.join(A.workdir, "merged.h5"))
    resultsfile.compare(merged, ref, "merged slices vs one run")
    # each slice stores its slice; the merged file none, and every record keeps the time its slice
    # recorded it
    for i, part in enumerate(parts):
        a = resultsfile.attrs(part)
        check((a.get("slice_index"), a.get("slice_count"), a.get("format_minor")) == (i, 3, 1),
              f"{part}: slice attributes {a.get('slice_index')}/{a.get('slice_count')}")
        for k, (rec, _) in resultsfile.read(part).items():
            check(merged[k][0]["recorded_at"] == rec["recorded_at"] != "",
                  f"{k}: merged recorded_at {merged[k][0]['recorded_at']}, its slice's {rec['recorded_at']}")
    check("slice_index" not in resultsfile.attrs(os.path.join(A.workdir, "merged.h5")), "the merged file stores a slice")
    # a slice missing from the merge: reported, and `status` on the merged file lists its tasks as left
    p = ad3d("merge", "partial.h5", parts[0], parts[1])
    check("2 of 3 slices merged; no input holds slice(s) 2:" in p.stderr, f"missing slice not reported: {p.stderr}")
    p = ad3d("status", "partial.h5", expect=3)
    left = set(resultsfile.read(parts[2]))
    check(set(listed(p.stdout, "left")) == left and f"10 planned, {10 - len(left)} done" in p.stdout,
          f"status of a merge without slice 2:\n{p.stdout}\nexpected left: {sorted(left)}")
    # a slice named twice is refused, and no output is written
    p = ad3d("merge", "twice.h5", parts[0], parts[1], parts[0], expect=1)
    check("both slice 0/3" in p.stderr, f"repeated slice: {p.stderr}")
    check(not os.path.exists(os.path.join(A.workdir, "twice.h5")), "a refused merge wrote its output")
    # the merged file is the job's own results file: resuming the job on it finds every task done
    p = ad3d("run", os.path.join(A.repo, "jobs/quick.cfg"), *METHODS, *SWEEP, "--output", "merged.h5", "--no-report",
             np_=1)
    check("(10 already done" in p.stderr, f"the job does not resume on the merged file:\n{p.stderr}")
    # another job is refused (unless forced); an existing output is kept (unless overwritten)
    other = quick_run("other.h5", "--set", "btf_raw.train_stride=20", np_=1)
    p = ad3d("merge", "mixed.h5", parts[0], other, expect=1)
    check("different jobs" in p.stderr and "train_stride" in p.stderr, f"unclear refusal: {p.stderr}")
    check(not os.path.exists(os.path.join(A.workdir, "mixed.h5")), "a refused merge wrote its output")
    ad3d("merge", "mixed.h5", parts[0], other, "--force")
    check(len(resultsfile.read(os.path.join(A.workdir, "mixed.h5"))) == len(resultsfile.read(parts[0])) + 5,
          "forced merge lost tasks")
    p = ad3d("merge", "merged.h5", parts[0], expect=1)
    check("exists" in p.stderr, f"existing output not protected: {p.stderr}")
    p = ad3d("merge", "new.h5", "nothere.h5", expect=1)
    check("nothere.h5" in p.stderr, f"missing input not named: {p.stderr}")
    ad3d("merge", "only", expect=2)
    resultsfile.compare(resultsfile.read(os.path.join(A.workdir, "merged.h5")), ref, "merged file after refusals")


# ---------------------------------------------------------------------------------------------- status

def quick_root():
    ad3d("check", "embedded:quick")
    roots = glob.glob(os.path.join(os.environ["AD3D_CACHE"], "quick-v*"))
    roots = [r for r in roots if ".tmp" not in r]
    check(len(roots) >= 1, f"quick dataset not found: {roots}")
    roots.sort(key=lambda r: int(r.rsplit("quick-v", 1)[1]))  # older versions may be cached beside it
    return roots[-1]


def status(*args, expect=None):
    return ad3d("status", *args, expect=expect)


def listed(text, section):
    """Keys listed under "section ...:" in a status output."""
    m = re.search(rf"^{section}[^\n]*:\n((?:  .*\n?)*)", text, re.M)
    return [line.strip().split(" ")[0] for line in m.group(1).splitlines()] if m else []


def test_status():
    done = quick_run("done.h5", *SWEEP)
    p = status(done, expect=0)
    check("10 planned, 10 done (10 ok, 0 failed), 0 running, 0 left" in p.stdout, f"finished job:\n{p.stdout}")
    check("closed at" in p.stdout, f"finished file not reported closed:\n{p.stdout}")
    # a slice stores its slice: status plans that slice without --slice, and it is complete; against
    # the whole job (--slice 0/1) the other slice's tasks are left
    parts = slices("st", 2, *SWEEP)
    mine = set(resultsfile.read(parts[0]))
    others = set(resultsfile.read(parts[1]))
    p = status(parts[0], expect=0)
    check(f"{len(mine)} planned, {len(mine)} done" in p.stdout and "slice 0/2" in p.stdout and
          "plan: slice(s) 0 of 2" in p.stdout, f"slice status from the stored slice:\n{p.stdout}")
    p = status(parts[0], "--slice", "0/1", expect=3)
    check(set(listed(p.stdout, "left")) == others, f"left tasks of slice 0:\n{p.stdout}\nexpected {sorted(others)}")
    p = status(parts[0], "--slice", "0/2", expect=0)
    check(f"{len(mine)} planned, {len(mine)} done" in p.stdout, f"slice status:\n{p.stdout}")
    p = status(parts[1], "--slice", "0/2", expect=3)  # --slice overrides the stored one
    check(set(listed(p.stdout, "left")) == mine, f"slice 1 against slice 0's plan:\n{p.stdout}")
    p = status(*parts, expect=0)  # the slices of a job array as one job
    check("10 planned, 10 done" in p.stdout and "plan: slice(s) 0, 1 of 2" in p.stdout, f"slices together:\n{p.stdout}")
    # the plan from a job file and options instead of the stored config
    p = status(parts[0], os.path.join(A.repo, "jobs/quick.cfg"), *METHODS, *SWEEP, "--slice", "0/2", expect=0)
    check(f"{len(mine)} planned, {len(mine)} done" in p.stdout, f"status with JOB.cfg:\n{p.stdout}")
    p = status(done, os.path.join(A.repo, "jobs/quick.cfg"), *METHODS, expect=3)  # a job without the sweep
    check("5 planned, 0 done" in p.stdout and "10 recorded task(s) are not in the planned job" in p.stdout,
          f"status against another job:\n{p.stdout}")

    # failed tasks, with their errors
    root = os.path.join(A.workdir, "broken")
    shutil.copytree(quick_root(), root)
    bad_cls = classes_of(root)[0]
    test_dir = os.path.join(root, bad_cls, "test")
    victim = sorted(f for f in os.listdir(test_dir) if "positive" in f)[0]
    data = open(os.path.join(test_dir, victim), "rb").read()
    open(os.path.join(test_dir, victim), "wb").write(data[:-100])
    ad3d("run", "--dataset", f"anomaly_shapenet:{root}", "--output", "broken.h5", "--set", "btf_raw.test_stride=5",
         "--quiet", "--no-report", np_=2, expect=1)
    p = status("broken.h5", expect=3)
    failed = listed(p.stdout, "failed")
    check(len(failed) == 1 and f"/{bad_cls}@" in failed[0], f"failed list:\n{p.stdout}")
    check(victim in p.stdout and "truncated" in p.stdout, f"the error is not shown:\n{p.stdout}")
    check("5 planned, 5 done (4 ok, 1 failed)" in p.stdout, f"counts with a failure:\n{p.stdout}")

    # a job still running: SWMR read, the writer seen, the next tasks probably running
    sweep = ["--sweep", "btf_raw.test_stride=" + ",".join(str(i) for i in range(2, 42))]  # 200 tasks
    cmd = [A.mpirun, "--oversubscribe", "-np", "3", A.ad3d, "run", os.path.join(A.repo, "jobs/quick.cfg"),
           "--output", "live.h5", "--quiet", "--no-report"] + METHODS + sweep
    proc = subprocess.Popen(cmd, cwd=A.workdir, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    seen_live = None
    t0 = time.time()
    while proc.poll() is None and time.time() - t0 < 100:
        time.sleep(0.2)
        if not os.path.exists(os.path.join(A.workdir, "live.h5")):
            continue
        p = status("live.h5")
        m = re.search(r"200 planned, (\d+) done \((\d+) ok, 0 failed\), (\d+) probably running, (\d+) left", p.stdout)
        if p.returncode == 3 and "being written now" in p.stdout and m and 0 < int(m.group(1)) < 150:
            seen_live = (p.stdout, [int(x) for x in m.groups()])
            recorded = len(resultsfile.read(os.path.join(A.workdir, "live.h5")))  # h5py, SWMR
            break
    proc.wait(timeout=120)
    check(proc.returncode == 0, f"the live run failed: {proc.stderr.read()}")
    check(seen_live is not None, "status never saw the run in progress")
    out, (ndone, nok, nrunning, nleft) = seen_live
    check(ndone <= recorded, f"status counted {ndone} done, h5py found {recorded} just after")
    check(nrunning == 2 and ndone + nrunning + nleft == 200, f"running/left counts (3 ranks: 2 workers):\n{out}")
    running = listed(out, "probably running")
    check(len(running) == 2, f"running list:\n{out}")
    p = status("live.h5", expect=0)
    check("200 done" in p.stdout and "closed at" in p.stdout, f"after the run:\n{p.stdout}")


# ---------------------------------------------------------------------------------------------- plan

def simulate(times, ranks):
    """Brute-force event simulation of the runner: R-1 workers (R = 1: the master alone), all idle at
    t = 0; whenever workers are idle, the lowest-numbered takes the next task of the list; time
    jumps to the next completion. Returns the makespan."""
    workers = max(ranks - 1, 1)
    busy_until = [None] * workers
    now, nxt, end = 0.0, 0, 0.0
    while True:
        for w in range(workers):
            if busy_until[w] is None and nxt < len(times):
                busy_until[w] = now + times[nxt]
                nxt += 1
        running = [t for t in busy_until if t is not None]
        if not running:
            return end
        now = min(running)
        end = max(end, now)
        busy_until = [None if t is not None and t <= now else t for t in busy_until]


def classes_of(root):
    """The class folders of a dataset root (beside them: manifest.csv, synth.cfg)."""
    return sorted(d for d in os.listdir(root) if os.path.isdir(os.path.join(root, d)))


def class_costs(root):
    """The runner's cost estimate (runner/tasks.h): bytes of a class's training clouds and test
    clouds, a test sample's bytes being those of its GT file when it has one."""
    costs = {}
    for cls in classes_of(root):
        total = 0
        for f in glob.glob(os.path.join(root, cls, "train", "*.pcd")):
            total += os.path.getsize(f)
        for f in glob.glob(os.path.join(root, cls, "test", "*.pcd")):
            gt = os.path.join(root, cls, "GT", os.path.basename(f)[:-4] + ".txt")
            total += os.path.getsize(gt if os.path.exists(gt) else f)
        costs[cls] = total
    return costs


def plan_csv(path, ranks, *extra):
    p = ad3d("plan", path, "--ranks", ",".join(map(str, ranks)), "--format", "csv", *extra)
    return {int(r["ranks"]): r for r in csv.DictReader(io.StringIO(p.stdout))}


def check_plan(path, ranks, what):
    res = resultsfile.read(path)
    times = {k: float(rec["fit_s"] + rec["score_s"]) for k, (rec, _) in res.items()}
    costs = class_costs(quick_root())
    by_time = [times[k] for k in sorted(times, key=lambda k: (-times[k], k))]
    by_cost = [times[k] for k in sorted(times, key=lambda k: (-costs[k.split("/")[2].split("@")[0]], k))]
    total, longest = sum(times.values()), max(times.values())
    rows = plan_csv(path, ranks)
    for r in ranks:
        row = rows[r]
        workers = max(r - 1, 1)
        check(int(row["workers"]) == workers, f"{what}: ranks {r}: workers {row['workers']}")
        for col, order in (("makespan_time_s", by_time), ("makespan_cost_s", by_cost)):
            want = simulate(order, r)
            got = float(row[col])
            check(abs(got - want) <= 1e-8 * max(want, 1e-9), f"{what}: ranks {r}: {col} {got} != simulated {want}")
            check(got >= float(row["lower_bound_s"]) * (1 - 1e-8), f"{what}: ranks {r}: below the lower bound")
        bound = max(total / workers, longest)
        check(abs(float(row["lower_bound_s"]) - bound) <= 1e-8 * bound, f"{what}: ranks {r}: lower bound")
    return rows, by_time, by_cost


def set_times(src, dst, times):
    """Copy src to dst with each task's fit_s + score_s set to times[key] (h5py, in place)."""
    shutil.copy(src, dst)
    with h5py.File(dst, "r+") as f:
        rows = f["tasks"][...]
        for i, row in enumerate(rows):
            key = row["key"].decode()
            if key in times:
                rows[i]["fit_s"], rows[i]["score_s"] = times[key] * 0.25, times[key] * 0.75
        f["tasks"][...] = rows


def test_plan():
    measured = quick_run("plan.h5", *SWEEP)
    ranks = [1, 2, 3, 4, 5, 8, 11, 1000]
    check_plan(measured, ranks, "measured times")
    keys = list(resultsfile.read(measured))
    # a task much longer than the rest: the bound is the longest task, and the cost order (which
    # does not know it) may hand it out late
    costs = class_costs(quick_root())
    smallest_cls = min(costs, key=costs.get)
    long_key = sorted(k for k in keys if f"/{smallest_cls}@" in k)[0]
    times = {k: 1.0 + (i % 3) * 0.5 for i, k in enumerate(sorted(keys))}
    times[long_key] = 7.0
    skewed = os.path.join(A.workdir, "skewed.h5")
    set_times(measured, skewed, times)
    rows, by_time, by_cost = check_plan(skewed, ranks, "skewed times")
    check(float(rows[1000]["makespan_time_s"]) == 7.0 and float(rows[1000]["lower_bound_s"]) == 7.0,
          f"1000 ranks: {rows[1000]}")
    check(float(rows[1]["makespan_time_s"]) == sum(times.values()), "one rank: the total")
    check(by_time != by_cost and float(rows[4]["makespan_cost_s"]) > float(rows[4]["makespan_time_s"]),
          f"the two orders should differ on this case: {rows[4]}")
    # text output and the fall-back when the job cannot be expanded
    p = ad3d("plan", skewed, "--ranks", "1000")
    check("lower_bound_s" in p.stdout and re.search(r"^\s+1000\s+999\s", p.stdout, re.M), f"text:\n{p.stdout}")
    rows = plan_csv(skewed, [4], "--no-plan")
    check(rows[4]["makespan_cost_s"] == "nan" and float(rows[4]["makespan_time_s"]) == simulate(by_time, 4),
          f"--no-plan: {rows[4]}")
    ad3d("plan", skewed, "--ranks", "0", expect=2)


# ---------------------------------------------------------------------------------------------- submit

def test_submit():
    """slurm/submit.sh --dry-run: the stage chain and its dependencies, without a Slurm."""
    sub = os.path.join(A.repo, "slurm/submit.sh")
    marker = os.path.join(A.repo, "tests/slurm/pretrain_marker.sbatch")
    out = os.path.join(A.workdir, "sub", "out.h5")
    p = subprocess.run([sub, "--dry-run", "--ad3d", A.ad3d, "--mode", "array", "--slices", "2", "--threads", "3",
                        "--pretrain", marker, "--sbatch", "--partition=cpu --time=1:00:00", "--output", out,
                        os.path.join(A.repo, "jobs/quick.cfg"), "--", "--set", "btf_raw.test_stride=3"],
                       capture_output=True, text=True, cwd=A.workdir)
    check(p.returncode == 0, f"submit.sh --dry-run failed:\n{p.stderr}")
    lines = dict(re.findall(r"^submit: (\w+): (.*)$", p.stdout, re.M))
    check(list(lines) == ["pretrain", "run", "merge", "report"], f"stages:\n{p.stdout}")
    for stage in lines:
        check("--partition=cpu --time=1:00:00" in lines[stage], f"{stage}: extra sbatch arguments missing")
    check("--dependency" not in lines["pretrain"], "the first stage has a dependency")
    check("--dependency=afterok:DRY1 --kill-on-invalid-dep=yes" in lines["run"], f"run: {lines['run']}")
    check("--array=0-1 " in lines["run"] and "--cpus-per-task=3" in lines["run"], f"run: {lines['run']}")
    check(lines["run"].endswith("--set btf_raw.test_stride=3") and lines["pretrain"].endswith("test_stride=3"),
          "the run options do not reach the stages")
    check("--dependency=afterany:DRY2" in lines["merge"], f"merge waits for any end of the runs: {lines['merge']}")
    check(lines["merge"].endswith(f"{out} {out[:-3]}.slice-0-of-2.h5 {out[:-3]}.slice-1-of-2.h5"),
          f"merge inputs: {lines['merge']}")
    check("--dependency=afterok:DRY3" in lines["report"], f"report: {lines['report']}")
    check(not os.path.exists(os.path.dirname(out)), "--dry-run created the output folder")
    p = subprocess.run([sub, "--dry-run", "--ad3d", A.ad3d, "--no-report", os.path.join(A.repo, "jobs/quick.cfg")],
                       capture_output=True, text=True, cwd=A.workdir)
    check("submit: pretrain: skipped" in p.stdout and "submit: merge: skipped" in p.stdout and
          "submit: report: skipped" in p.stdout and "--ntasks=4" in p.stdout, f"defaults:\n{p.stdout}")
    for bad in (["--mode", "x"], ["--slices", "0"], ["--pretrain", "/nonexistent"], []):
        p = subprocess.run([sub, "--dry-run", "--ad3d", A.ad3d] + bad +
                           ([os.path.join(A.repo, "jobs/quick.cfg")] if bad else []),
                           capture_output=True, text=True, cwd=A.workdir)
        check(p.returncode == 2, f"submit.sh {bad}: exit {p.returncode}")


def main():
    global A
    ap = argparse.ArgumentParser()
    ap.add_argument("test", choices=["merge", "status", "plan", "submit"])
    for opt in ("--ad3d", "--mpirun", "--workdir", "--repo"):
        ap.add_argument(opt, required=True)
    A = ap.parse_args()
    A.ad3d = os.path.abspath(A.ad3d)
    shutil.rmtree(A.workdir, ignore_errors=True)
    os.makedirs(A.workdir)
    try:
        globals()["test_" + A.test]()
    except resultsfile.Mismatch as e:
        fail(str(e))
    print(f"cluster_{A.test}: passed")


if __name__ == "__main__":
    main()
