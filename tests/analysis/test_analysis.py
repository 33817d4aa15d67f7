#!/usr/bin/python3
"""Tests of analysis/ (the plots) and of `ad3d report`'s sweep tables, on a small results file made
by running the quick job (two methods, a sweep of three variants).

    test_analysis.py NAME --ad3d BIN --mpirun MPIRUN --workdir DIR --repo SRC

NAME: by_defect (analysis/by_defect.py's per-defect I-AUROC and P-AUROC against sklearn on the samples
read here), plots (every PNG exists, is a valid, non-blank PNG of a sensible size, and the numbers the
scripts draw equal those computed here from the file with h5py and sklearn; FORMAT.md's reading
rules on a file with a superseding failed record, an uncommitted row and a writer holding it) or
report (the variant x mean table and --group-by, against h5py means).
"""
import argparse
import csv
import io
import json
import math
import os
import shutil
import struct
import subprocess
import sys

import h5py
import numpy as np
from sklearn.metrics import roc_auc_score

A = None
KEY = "btf_raw.test_stride"
VALUES = ["3", "5", "10"]


def fail(msg):
    print("FAIL:", msg, file=sys.stderr)
    sys.exit(1)


def check(cond, msg):
    if not cond:
        fail(msg)


def sh(cmd, expect=0, env=None):
    p = subprocess.run(cmd, cwd=A.workdir, capture_output=True, text=True, timeout=200, env=env)
    if expect is not None and p.returncode != expect:
        fail(f"{' '.join(cmd)} exited {p.returncode}, expected {expect}\nstdout:\n{p.stdout}\nstderr:\n{p.stderr}")
    return p


def make_results(name="res.h5"):
    """The quick job with two of its methods (all six take about 30 s) and a sweep of 3 variants."""
    out = os.path.join(A.workdir, name)
    sh([A.mpirun, "--oversubscribe", "-np", "2", A.ad3d, "run", os.path.join(A.repo, "jobs/quick.cfg"),
        "--methods", "btf_raw,curvature", "--sweep", f"{KEY}={','.join(VALUES)}", "--output", out, "--quiet",
        "--no-report"])
    return out


def read(path):
    """{key: row dict} of the latest committed row per key, and the scores: independent of analysis/."""
    with h5py.File(path, "r") as f:
        rows = f["tasks"][...]
        latest = {}
        for i, r in enumerate(rows):
            if r["committed"] == 1 and r["key"] != b"":
                latest[r["key"].decode()] = i
        out = {}
        for k, i in latest.items():
            r = rows[i]
            d = {n: (r[n].decode() if isinstance(r[n], bytes) else r[n].item()) for n in rows.dtype.names}
            if r["sample_start"] >= 0:
                s0, ns, p0, npt = r["sample_start"], r["nsamples"], r["point_start"], r["npoints"]
                d["labels"] = f["samples/label"][s0:s0 + ns]
                d["objs"] = f["samples/object_score"][s0:s0 + ns]
                d["plabels"] = f["points/label"][p0:p0 + npt]
                d["pscores"] = f["points/score"][p0:p0 + npt]
                d["defects"] = [x.decode() for x in f["samples/defect"][s0:s0 + ns]]
                d["npts"] = f["samples/npoints"][s0:s0 + ns]
            out[k] = d
        return out


def class_means(tasks, method, variant, metric):
    vals = [t[metric] for t in tasks.values() if t["method"] == method and t["variant"] == variant
            and t["status"] == 0 and math.isfinite(t[metric])]
    return float(np.mean(vals)) if vals else math.nan


def png_ok(path):
    """A valid PNG (signature, IHDR), of a sensible size, that is not blank."""
    check(os.path.exists(path), f"{path} missing")
    data = open(path, "rb").read()
    check(data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR", f"{path}: not a PNG")
    w, h = struct.unpack(">II", data[16:24])
    check(300 <= w <= 5000 and 200 <= h <= 5000, f"{path}: {w}x{h} pixels")
    check(8000 <= len(data) <= 5_000_000, f"{path}: {len(data)} bytes")
    import matplotlib.image
    img = matplotlib.image.imread(path)
    check(img.shape[0] == h and img.shape[1] == w and float(img[..., :3].std()) > 0.02, f"{path}: blank image")


def corrupt_copy(src, dst):
    """dst = src plus a later row that marks one task failed (FORMAT.md rule 3) and an uncommitted
    row for a key that does not exist (rule 2)."""
    shutil.copy(src, dst)
    with h5py.File(dst, "r+") as f:
        d = f["tasks"]
        rows = d[...]
        victim = rows[0].copy()
        victim["status"], victim["sample_start"], victim["point_start"] = 1, -1, -1
        victim["i_auroc"] = victim["p_auroc"] = np.nan
        victim["error"] = b"fit: out of memory (injected by the test)"
        junk = rows[1].copy()
        junk["key"], junk["committed"] = b"junk/quick/none@default", 0
        n = d.shape[0]
        d.resize((n + 2,))
        d[n] = victim
        d[n + 1] = junk
    return rows[0]["key"].decode()


def run_plots(path, out):
    sh(["/usr/bin/python3", os.path.join(A.repo, "analysis/plots.py"), path, "--out", out])
    return json.load(open(os.path.join(out, "plots.json")))


def check_plots(path, index, failed_key=None):
    tasks = read(path)
    variants = [f"{KEY}={v}" for v in VALUES]
    # every PNG
    pngs = [index["summary"]["png"]] + [d["png"] for k in ("classes", "variants", "roc") for d in index[k]]
    for p in pngs:
        png_ok(p)
    check(len(index["classes"]) == 3 and len(index["variants"]) == 1 and len(index["roc"]) == 6,
          f"expected 3 bar, 1 curve and 6 ROC figures: {[os.path.basename(p) for p in pngs]}")
    # bars: the stored metric of every class, the mean over the ok classes
    for d in index["classes"]:
        for metric in ("i_auroc", "p_auroc"):
            for m, vals in d[metric].items():
                for c, v in zip(d["classes"], vals):
                    t = tasks[f"{m}/quick/{c}@{d['variant']}"]
                    want = t[metric] if t["status"] == 0 else math.nan
                    check((math.isnan(v) and math.isnan(want)) or abs(v - want) < 1e-12, f"bar {m} {c} {metric}")
                mean = class_means(tasks, m, d["variant"], metric)
                check(abs(vals[-1] - mean) < 1e-12, f"bar mean {m} {d['variant']} {metric}: {vals[-1]} != {mean}")
    # curves: mean over classes against the swept values, in numeric order
    cur = index["variants"][0]
    check(cur["key"] == KEY and cur["values"] == VALUES, f"curve x values {cur['values']}")
    for metric in ("i_auroc", "p_auroc"):
        for m, ys in cur[metric].items():
            want = [class_means(tasks, m, v, metric) for v in variants]
            check(np.allclose(ys, want, rtol=0, atol=1e-12), f"curve {m} {metric}: {ys} != {want}")
    # ROC: the area under the drawn curve is the stored metric and sklearn's AUROC of the stored scores
    seen = 0
    for d in index["roc"]:
        for key, area in d["auc"].items():
            t = tasks[key]
            labels, scores = (t["labels"], t["objs"]) if d["level"] == "object" else (t["plabels"], t["pscores"])
            stored = t["i_auroc"] if d["level"] == "object" else t["p_auroc"]
            check(abs(area - stored) < 1e-9, f"{key} {d['level']}: area {area} != stored {stored}")
            check(abs(area - roc_auc_score(labels, scores)) < 1e-9, f"{key} {d['level']}: area != sklearn")
            seen += 1
    ok_tasks = sum(1 for t in tasks.values() if t["status"] == 0)
    check(seen == 2 * ok_tasks, f"ROC areas for {seen} task-levels, expected {2 * ok_tasks}")
    # summary: counts, and the failure with its error
    s = index["summary"]
    check(s["tasks"] == len(tasks) == 30, f"summary counts {s['tasks']} tasks, h5py {len(tasks)}")
    check(s["failed"] == (1 if failed_key else 0), f"summary failed {s['failed']}")
    if failed_key:
        check(s["failures"][0][0] == failed_key and "injected" in s["failures"][0][1], f"failures {s['failures']}")
        bars = [d for d in index["classes"] if failed_key.endswith("@" + d["variant"])][0]
        method, cls = failed_key.split("/")[0], failed_key.split("/")[2].split("@")[0]
        check(bars["failed"][method] == [cls], f"failed class not marked in the bars: {bars['failed']}")


def test_plots():
    path = make_results()
    check_plots(path, run_plots(path, os.path.join(A.workdir, "plots")))
    bad = os.path.join(A.workdir, "bad.h5")
    failed_key = corrupt_copy(path, bad)
    check_plots(bad, run_plots(bad, os.path.join(A.workdir, "plots_bad")), failed_key)
    # each script alone, and a file a writer holds (SWMR write): readers fall back to SWMR read
    live = os.path.join(A.workdir, "live.h5")
    shutil.copy(path, live)
    with h5py.File(live, "r+", libver="latest") as w:
        w.swmr_mode = True
        for script, args in (("plot_classes.py", []), ("plot_variants.py", ["--key", "test_stride"]),
                             ("plot_roc.py", ["--variant", f"{KEY}=5", "--no-points"]), ("summary.py", [])):
            js = os.path.join(A.workdir, script + ".json")
            out = os.path.join(A.workdir, "single", script)
            dest = ["--out", out + ".png"] if script == "summary.py" else ["--out", out]
            sh(["/usr/bin/python3", os.path.join(A.repo, "analysis", script), live, "--json", js] + dest + args)
            data = json.load(open(js))
            for d in data if isinstance(data, list) else [data]:
                png_ok(d["png"])
        p = sh(["/usr/bin/python3", os.path.join(A.repo, "analysis/plot_variants.py"), live, "--key", "nokey"],
               expect=None)
        check(p.returncode != 0 and "swept keys" in p.stderr + p.stdout, f"unknown key: {p.stderr}")


def report_csv(*args):
    text = sh([A.ad3d, "report", *args, "--format", "csv"]).stdout
    tables, cur = {}, None
    for line in text.splitlines():
        if line.startswith("# "):
            cur = line[2:]
            tables[cur] = []
        elif line and cur:
            tables[cur].append(line)
    return {k: list(csv.reader(io.StringIO("\n".join(v)))) for k, v in tables.items()}


def test_report():
    path = make_results()
    tasks = read(path)
    variants = [f"{KEY}={v}" for v in VALUES]
    # group-by: rows = values in numeric order, columns = methods, cells = means over classes
    tables = report_csv(path, "--group-by", "test_stride")
    check(len(tables) == 2, f"group-by tables: {list(tables)}")
    for caption, rows in tables.items():
        metric = "i_auroc" if caption.startswith("Mean I-AUROC") else "p_auroc"
        check(rows[0] == [KEY, "BTF(Raw)", "Curvature"], f"header {rows[0]}")
        check([r[0] for r in rows[1:]] == VALUES, f"rows {[r[0] for r in rows[1:]]}")
        for r, v in zip(rows[1:], variants):
            for col, m in ((1, "btf_raw"), (2, "curvature")):
                want = class_means(tasks, m, v, metric)
                check(abs(float(r[col]) - want) < 1e-6, f"{caption}: {v} {m}: {r[col]} != {want}")
    # --columns classes: per class values and their mean, one table per method and metric
    tables = report_csv(path, "--group-by", KEY, "--columns", "classes")
    check(len(tables) == 4, f"--columns classes tables: {list(tables)}")
    for caption, rows in tables.items():
        metric = "i_auroc" if caption.startswith("I-AUROC") else "p_auroc"
        method = "btf_raw" if "BTF(Raw)" in caption else "curvature"
        classes = rows[0][1:-1]
        for r, v in zip(rows[1:], variants):
            for c, cell in zip(classes, r[1:-1]):
                want = tasks[f"{method}/quick/{c}@{v}"][metric]
                check(abs(float(cell) - want) < 1e-6, f"{caption}: {v} {c}")
            check(abs(float(r[-1]) - class_means(tasks, method, v, metric)) < 1e-6, f"{caption}: {v} mean")
    # the compact variant x method table of the plain report (and alone with --compact)
    md = sh([A.ad3d, "report", path]).stdout
    check("Mean I-AUROC over 5 classes of quick, by variant" in md, f"no variant table:\n{md}")
    compact = sh([A.ad3d, "report", path, "--compact"]).stdout
    check("(variant " not in compact and "by variant" in compact, f"--compact:\n{compact}")
    tables = report_csv(path, "--compact")
    rows = tables["Mean P-AUROC over 5 classes of quick, by variant"]
    check([r[0] for r in rows[1:]] == variants, f"variants in natural order: {[r[0] for r in rows[1:]]}")
    for r, v in zip(rows[1:], variants):
        check(abs(float(r[1]) - class_means(tasks, "btf_raw", v, "p_auroc")) < 1e-6, f"compact {v}")
    # a failed task: the mean over fewer classes is marked
    bad = os.path.join(A.workdir, "bad.h5")
    failed_key = corrupt_copy(path, bad)
    md = sh([A.ad3d, "report", bad, "--group-by", KEY]).stdout
    check("*" in md and "fewer classes" in md, f"partial mean not marked:\n{md}")
    check(failed_key in sh([A.ad3d, "report", bad]).stdout, "failed task not listed")
    # errors: an unknown key names the swept ones; no sweep at all
    p = sh([A.ad3d, "report", path, "--group-by", "nokey"], expect=1)
    check(KEY in p.stderr, f"unknown key: {p.stderr}")
    plain = os.path.join(A.workdir, "plain.h5")
    sh([A.ad3d, "run", os.path.join(A.repo, "jobs/quick.cfg"), "--methods", "btf_raw", "--output", plain, "--quiet",
        "--no-report"])
    p = sh([A.ad3d, "report", plain, "--group-by", KEY], expect=1)
    check("no sweep" in p.stderr, f"no sweep: {p.stderr}")
    check("by variant" not in sh([A.ad3d, "report", plain]).stdout, "variant table for a single variant")


def test_by_defect():
    path = make_results()
    tasks = read(path)
    js = os.path.join(A.workdir, "by_defect.json")
    png = os.path.join(A.workdir, "by_defect.png")
    p = sh([sys.executable, os.path.join(A.repo, "analysis/by_defect.py"), path, "--json", js, "--out", png])
    check("P-AUROC per defect type" in p.stdout, f"no P-AUROC table:\n{p.stdout}")
    png_ok(png)
    got = json.load(open(js))
    # the oracle: per task and defect d, sklearn on the samples of type d with the normal ones
    want = {}
    for t in tasks.values():
        if t["status"] != 0:
            continue
        labels, objs, defects = np.asarray(t["labels"]), np.asarray(t["objs"]), t["defects"]
        starts = np.r_[0, np.cumsum(t["npts"])]
        for d in set(x for x, lab in zip(defects, labels) if lab):
            keep = [k for k in range(len(labels)) if labels[k] == 0 or defects[k] == d]
            pts = np.concatenate([np.arange(starts[k], starts[k + 1]) for k in keep])
            cell = want.setdefault((t["method"], t["variant"], d), ([], []))
            cell[0].append(roc_auc_score(labels[keep], objs[keep]))
            cell[1].append(roc_auc_score(t["plabels"][pts], t["pscores"][pts]))
    check(set(got["defects"]) == {k[2] for k in want}, f"defects {got['defects']}")
    check(len(got["rows"]) == 2 * len(VALUES), f"{len(got['rows'])} rows")
    for r in got["rows"]:
        for d in got["defects"]:
            i, pp = want[(r["method"], r["variant"], d)]
            check(r["classes"][d] == len(i), f"{r['method']} {d}: {r['classes'][d]} classes, expected {len(i)}")
            check(abs(r["i_auroc"][d] - np.mean(i)) < 1e-9, f"{r['method']} {r['variant']} {d}: I-AUROC")
            check(abs(r["p_auroc"][d] - np.mean(pp)) < 1e-9, f"{r['method']} {r['variant']} {d}: P-AUROC")
    # "all" is the stored metric's mean over classes
    for r in got["rows"]:
        check(abs(r["all"][1] - class_means(tasks, r["method"], r["variant"], "p_auroc")) < 1e-9, "all column")


def main():
    global A
    ap = argparse.ArgumentParser()
    ap.add_argument("test", choices=["by_defect", "plots", "report"])
    for opt in ("--ad3d", "--mpirun", "--workdir", "--repo"):
        ap.add_argument(opt, required=True)
    A = ap.parse_args()
    A.ad3d = os.path.abspath(A.ad3d)
    shutil.rmtree(A.workdir, ignore_errors=True)
    os.makedirs(A.workdir)
    globals()["test_" + A.test]()
    print(f"analysis_{A.test}: passed")


if __name__ == "__main__":
    main()
