#!/usr/bin/python3
"""ad3d on a real one-node Slurm (localslurm.py starts and stops it): the quick job submitted with
slurm/submit.sh as one MPI job (srun --mpi=pmix) and as a job array of slices merged at the end
gives the same results (every metric, every score) as a plain mpirun run.

    test_slurm.py NAME --ad3d BIN --mpirun MPIRUN --workdir DIR --repo SRC --pidfile FILE

NAME: mpi (pretrain -> run -> report, plus the template's mpirun fallback) or array (slices ->
merge -> report). Exits 0 passed, 77 skipped (not root: slurmd and munged need it), 1 failed.
"""
import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import localslurm  # noqa: E402
import resultsfile  # noqa: E402

A = None
LIMIT_S = 170  # ctest's timeout is 240: stop in time to tear Slurm down ourselves


def fail(msg):
    raise AssertionError(msg)


def check(cond, msg):
    if not cond:
        fail(msg)


def run(cmd, env=None, expect=0, timeout=120):
    p = subprocess.run(cmd, cwd=A.workdir, env=env, capture_output=True, text=True, timeout=timeout)
    if expect is not None and p.returncode != expect:
        fail(f"{' '.join(cmd)} exited {p.returncode}, expected {expect}\nstdout:\n{p.stdout}\nstderr:\n{p.stderr}")
    return p


def quick_job():
    return os.path.join(A.repo, "jobs/quick.cfg")


# jobs/quick.cfg runs every method (about 30 s on 2 ranks); Slurm, srun, the slices and the merge do
# not depend on the method, so two fast ones keep each submission to seconds: 10 tasks
METHODS = ["--methods", "btf_raw,curvature"]


def reference():
    """The quick job under a plain mpirun on 2 ranks."""
    out = os.path.join(A.workdir, "ref.h5")
    run([A.mpirun, "--oversubscribe", "-np", "2", A.ad3d, "run", quick_job(), *METHODS, "--output", out, "--quiet",
         "--no-report"])
    return resultsfile.read(out)


def submit(slurm, *args):
    """slurm/submit.sh with args; returns {stage: job id}."""
    p = run([os.path.join(A.repo, "slurm/submit.sh"), "--ad3d", A.ad3d] + list(args), env=slurm.env())
    ids = dict(re.findall(r"^submit: (\w+): job (\d+)", p.stdout, re.M))
    check(ids, f"submit.sh printed no job ids:\n{p.stdout}")
    return ids, p.stdout


def wait_completed(slurm, ids):
    states = slurm.wait_jobs(list(ids.values()), timeout=LIMIT_S - 30)
    for stage, jid in ids.items():
        check(states[jid] and set(states[jid]) == {"COMPLETED"},
              f"stage {stage} (job {jid}) ended {states[jid]}\n{logs()}\n{slurm.logs()}")


def logs():
    out = []
    for name in sorted(os.listdir(A.workdir)):
        if name.startswith("ad3d-") and name.endswith(".out"):
            out.append(f"--- {name}\n" + open(os.path.join(A.workdir, name), errors="replace").read())
    return "\n".join(out)


def log_of(prefix):
    names = [n for n in os.listdir(A.workdir) if n.startswith(prefix) and n.endswith(".out")]
    return "\n".join(open(os.path.join(A.workdir, n)).read() for n in sorted(names))


def job_times(slurm, jid):
    r = subprocess.run(["scontrol", "show", "job", jid], env=slurm.env(), capture_output=True, text=True)
    get = lambda k: re.search(rf"\b{k}=(\S+)", r.stdout).group(1)  # noqa: E731
    return get("StartTime"), get("EndTime")


def blas_threads_of(path):
    m = re.search(r"blas_threads\s*=\s*(\d+)", resultsfile.attrs(path)["config"])
    return int(m.group(1)) if m else None


def test_mpi(slurm):
    ref = reference()
    marker = os.path.join(A.workdir, "pretrain.marker")
    env_marker = {"AD3D_TEST_MARKER": marker}
    os.environ.update(env_marker)
    out = os.path.join(A.workdir, "mpi.h5")
    ids, text = submit(slurm, "--mode", "mpi", "--ranks", "2", "--threads", "1", "--output", out,
                       "--pretrain", os.path.join(A.repo, "tests/slurm/pretrain_marker.sbatch"), quick_job(),
                       "--", "--quiet", *METHODS)
    check(list(ids) == ["pretrain", "run", "report"], f"stages {list(ids)}:\n{text}")
    check("submit: merge: skipped" in text, f"merge not skipped in mpi mode:\n{text}")
    wait_completed(slurm, ids)
    # the chain: the pre-training stage got the job and its options, and ended before the run began
    check(open(marker).read().split() == [quick_job(), "--quiet", *METHODS], f"pretrain arguments: {open(marker).read()}")
    check(job_times(slurm, ids["pretrain"])[1] <= job_times(slurm, ids["run"])[0], "run started before pretrain ended")
    resultsfile.compare(resultsfile.read(out), ref, "srun --mpi=pmix job vs plain mpirun")
    a = resultsfile.attrs(out)
    check(a["ranks"] == 2, f"ranks attribute {a['ranks']}")
    check(blas_threads_of(out) == 1, "run.blas_threads not set by the template")
    check("OPENBLAS_NUM_THREADS=1" in log_of("ad3d-run-"), "the run log does not show OPENBLAS_NUM_THREADS")
    md = open(os.path.join(A.workdir, "mpi.md")).read()
    check("I-AUROC on quick" in md and "BTF(Raw)" in md, f"report stage wrote no tables:\n{md}")
    check(os.path.exists(os.path.join(A.workdir, "mpi.csv")), "report stage wrote no csv")

    # the fallback for sites without PMIx: Open MPI's mpirun inside the allocation
    fb = os.path.join(A.workdir, "fallback.h5")
    env = slurm.env()
    env["AD3D_LAUNCH"] = "mpirun"
    env["AD3D"] = A.ad3d
    p = run(["sbatch", "--parsable", "--ntasks=2", f"--output={A.workdir}/ad3d-fallback-%j.out",
             os.path.join(A.repo, "slurm/run.sbatch"), quick_job(), *METHODS, "--output", fb, "--quiet"], env=env)
    wait_completed(slurm, {"fallback": p.stdout.strip().split(";")[0]})
    resultsfile.compare(resultsfile.read(fb), ref, "mpirun-in-allocation job vs plain mpirun")
    check(resultsfile.attrs(fb)["ranks"] == 2, "mpirun inside the allocation did not start 2 ranks")


def test_array(slurm):
    ref = reference()
    out = os.path.join(A.workdir, "arr.h5")
    ids, text = submit(slurm, "--mode", "array", "--slices", "3", "--ranks", "1", "--threads", "2",
                       "--output", out, "--wait", quick_job(), "--", *METHODS)
    check(list(ids) == ["run", "merge", "report"], f"stages {list(ids)}:\n{text}")
    check("submit: pretrain: skipped" in text, f"pretrain not skipped:\n{text}")
    check(all(f"submit: job {i}: COMPLETED" in text for i in ids.values()), f"--wait did not report:\n{text}")
    wait_completed(slurm, ids)
    slices = [os.path.join(A.workdir, f"arr.slice-{i}-of-3.h5") for i in range(3)]
    keys = []
    for s in slices:
        check(os.path.exists(s), f"{s} missing\n{logs()}")
        check(blas_threads_of(s) == 2, f"{s}: run.blas_threads is not the --threads given")
        keys += list(resultsfile.read(s))
    check(sorted(keys) == sorted(ref) and len(set(keys)) == len(keys),
          f"the slices do not partition the task list: {keys}")
    check(all(len(resultsfile.read(s)) >= 1 for s in slices), "an empty slice")
    merged = resultsfile.read(out)
    resultsfile.compare(merged, ref, "merged job array vs plain mpirun")
    check(resultsfile.attrs(out)["ranks"] == 3, "merged ranks: the slices' ranks summed")
    check("OPENBLAS_NUM_THREADS=2" in log_of("ad3d-slice-"), "the slice logs do not show OPENBLAS_NUM_THREADS=2")
    check("3 file(s)" in log_of("ad3d-merge-") or "from 3 file" in log_of("ad3d-merge-"),
          f"merge log:\n{log_of('ad3d-merge-')}")
    md = open(os.path.join(A.workdir, "arr.md")).read()
    check("I-AUROC on quick" in md, f"report stage wrote no tables:\n{md}")


def on_alarm(signum, frame):
    raise TimeoutError(f"test_slurm: still running after {LIMIT_S}s")


def main():
    global A
    ap = argparse.ArgumentParser()
    ap.add_argument("test", choices=["mpi", "array"])
    for opt in ("--ad3d", "--mpirun", "--workdir", "--repo", "--pidfile"):
        ap.add_argument(opt, required=True)
    A = ap.parse_args()
    A.ad3d = os.path.abspath(A.ad3d)
    if os.getuid() != 0:
        print("test_slurm: skipped: a local slurmd and munged need root")
        return 77
    missing = localslurm.missing_programs()
    if missing:  # jobs/setup.sh --tests installs slurm-wlm and munge
        print(f"test_slurm: FAIL: not installed: {' '.join(missing)} (apt-get install slurm-wlm munge)")
        return 1
    shutil.rmtree(A.workdir, ignore_errors=True)
    os.makedirs(A.workdir)
    signal.signal(signal.SIGALRM, on_alarm)
    signal.signal(signal.SIGTERM, lambda s, f: sys.exit(f"test_slurm: terminated (signal {s})"))
    signal.alarm(LIMIT_S)
    t0 = time.time()
    try:
        with localslurm.LocalSlurm(A.workdir, A.pidfile) as slurm:
            globals()["test_" + A.test](slurm)
    except (AssertionError, resultsfile.Mismatch, localslurm.SlurmError, TimeoutError) as e:
        print(f"FAIL: {e}", file=sys.stderr)
        return 1
    finally:
        signal.alarm(0)
    print(f"slurm_{A.test}: passed in {time.time() - t0:.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
