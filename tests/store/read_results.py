#!/usr/bin/python3
"""Independent reader of an ad3d results file (src/store/FORMAT.md), using h5py and numpy only.

    read_results.py RESULTS.h5 EXPECT.json

Reads the file the way FORMAT.md tells any reader to (plain open, else SWMR read; committed rows
only; the latest row per key, in order of first appearance; scores through sample_start /
point_start) and checks it against EXPECT.json, which the C tests write:

    {"require_plain_open": bool,           # the file must open without swmr=True
     "attrs": {name: value, ...},          # root attributes; "end_time": true means "not empty"
     "tasks": [task, ...],                 # expected tasks, in order
     "optional_last": task or null}        # one more task that may or may not be there

    task = {"key", "method", "dataset", "class", "variant", "error": str,
            "status", "rank", "peak_rss_kb", "nsamples", "npoints": int,
            "i_auroc", "p_auroc", "i_ap", "p_ap", "aupro", "fit_s", "score_s": float (NaN allowed),
            "scores": null or {"names", "defects": [str], "labels", "npoints", "point_labels": [int],
                               "object_scores", "point_scores": [float]}}

Prints one line per problem and exits 1 if there is any, else prints a summary and exits 0.
"""
import json
import math
import sys

import h5py
import numpy as np

TEXT = ("key", "method", "dataset", "class", "variant", "error")
INTS = ("status", "rank", "peak_rss_kb", "nsamples", "npoints")
FLOATS = ("i_auroc", "p_auroc", "i_ap", "p_ap", "aupro", "fit_s", "score_s")


def open_results(path):
    """Plain open for a closed file; SWMR read while a writer holds it or after a kill."""
    try:
        return h5py.File(path, "r"), True
    except OSError:
        return h5py.File(path, "r", swmr=True), False


def text(v):
    return v.decode("utf-8") if isinstance(v, (bytes, np.bytes_)) else str(v)


def same_float(a, b):
    return (math.isnan(a) and math.isnan(b)) or a == b


def latest_tasks(f):
    """Row index of the latest committed row of each key, in order of first appearance."""
    rows = f["tasks"][...]
    order, latest = [], {}
    for i, row in enumerate(rows):
        if row["committed"] != 1 or row["key"] == b"":
            continue
        key = text(row["key"])
        if key not in latest:
            order.append(key)
        latest[key] = i
    return rows, [latest[k] for k in order]


def check_task(f, rows, idx, exp, problems):
    row = rows[idx]
    where = "task %s (row %d)" % (exp["key"], idx)
    for name in TEXT:
        if text(row[name]) != exp[name]:
            problems.append("%s: %s is %r, expected %r" % (where, name, text(row[name]), exp[name]))
    for name in INTS:
        if int(row[name]) != exp[name]:
            problems.append("%s: %s is %d, expected %d" % (where, name, int(row[name]), exp[name]))
    for name in FLOATS:
        if not same_float(float(row[name]), float(exp[name])):
            problems.append("%s: %s is %r, expected %r" % (where, name, float(row[name]), exp[name]))
    sc = exp["scores"]
    s0, p0 = int(row["sample_start"]), int(row["point_start"])
    if sc is None:
        if s0 != -1:
            problems.append("%s: has scores (sample_start %d), expected none" % (where, s0))
        return
    if s0 < 0:
        problems.append("%s: has no scores, expected some" % where)
        return
    ns, np_ = int(row["nsamples"]), int(row["npoints"])
    smp = {name: f["samples"][name][s0:s0 + ns] for name in
           ("task_row", "name", "defect", "label", "object_score", "npoints", "point_start")}
    if len(smp["name"]) != ns:
        problems.append("%s: only %d of %d sample rows exist" % (where, len(smp["name"]), ns))
        return
    if not np.all(smp["task_row"] == idx):
        problems.append("%s: /samples/task_row does not point back to row %d" % (where, idx))
    starts = p0 + np.concatenate([[0], np.cumsum(smp["npoints"])[:-1]]) if ns else np.zeros(0)
    if not np.array_equal(smp["point_start"], starts.astype(np.int64)):
        problems.append("%s: /samples/point_start is not the running sum of npoints" % where)
    got = {
        "names": [text(v) for v in smp["name"]],
        "defects": [text(v) for v in smp["defect"]],
        "labels": [int(v) for v in smp["label"]],
        "npoints": [int(v) for v in smp["npoints"]],
        "object_scores": [float(v) for v in smp["object_score"]],
        "point_scores": [float(v) for v in f["points"]["score"][p0:p0 + np_]],
        "point_labels": [int(v) for v in f["points"]["label"][p0:p0 + np_]],
    }
    for name, values in got.items():
        want = sc[name]
        if name == "point_scores":  # float32 in the file
            want = [float(np.float32(v)) for v in want]
        if len(values) != len(want):
            problems.append("%s: %s has %d values, expected %d" % (where, name, len(values), len(want)))
            continue
        for j, (a, b) in enumerate(zip(values, want)):
            equal = same_float(a, b) if isinstance(a, float) else a == b
            if not equal:
                problems.append("%s: %s[%d] is %r, expected %r" % (where, name, j, a, b))
                break


def main():
    path, expect_path = sys.argv[1], sys.argv[2]
    with open(expect_path, encoding="utf-8") as fp:
        exp = json.load(fp)
    problems = []
    f, plain = open_results(path)
    if exp.get("require_plain_open") and not plain:
        problems.append("%s: opens only with swmr=True" % path)
    for name, want in exp.get("attrs", {}).items():
        if name not in f.attrs:
            problems.append("attribute %s is missing" % name)
            continue
        got = f.attrs[name]
        if want is True:
            if text(got) == "":
                problems.append("attribute %s is empty" % name)
        elif isinstance(want, str):
            if text(got) != want:
                problems.append("attribute %s is %r, expected %r" % (name, text(got)[:200], want[:200]))
        elif int(got) != want:
            problems.append("attribute %s is %r, expected %r" % (name, got, want))
    rows, latest = latest_tasks(f)
    uncommitted = int(np.sum(rows["committed"] != 1)) if len(rows) else 0
    referenced = sum(int(rows[i]["nsamples"]) for i in latest if rows[i]["sample_start"] >= 0)
    tasks = list(exp["tasks"])
    optional = exp.get("optional_last")
    if optional is not None and len(latest) == len(tasks) + 1:
        tasks.append(optional)
    if len(latest) != len(tasks):
        problems.append("%d tasks in the file, expected %d%s" %
                        (len(latest), len(tasks), " or one more" if optional else ""))
    for idx, want in zip(latest, tasks):
        check_task(f, rows, idx, want, problems)
    nsample_rows = len(f["samples"]["name"])
    f.close()
    for p in problems[:50]:
        print("read_results.py: " + p)
    if problems:
        return 1
    print("read_results.py: %s: %d tasks ok (%s open; %d rows, %d not committed; %d sample rows, %d of "
          "the latest tasks)" % (path, len(latest), "plain" if plain else "SWMR", len(rows), uncommitted,
                                 nsample_rows, referenced))
    return 0


if __name__ == "__main__":
    sys.exit(main())
