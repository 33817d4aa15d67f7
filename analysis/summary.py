#!/usr/bin/python3
"""A one-page summary of a results file (A4 portrait PNG): the run (program, start and end, ranks,
hosts, sweep), the tasks (ok, failed, time), the mean I-AUROC / P-AUROC of every (dataset, method,
variant) as a table and as bars, the distribution of task times with the slowest tasks, and the
failed tasks with their errors.

    analysis/summary.py RESULTS.h5 [--out FILE.png] [--json FILE]

--json writes the numbers shown: {"png", "tasks", "ok", "failed", "task_seconds", "means": [{"dataset",
"method", "variant", "i_auroc", "p_auroc", "classes"}], "slowest": [[key, seconds]], "failures": [[key, error]]}.
"""
import argparse
import json
import math
import os
import sys
import textwrap

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ad3dres  # noqa: E402

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

MAX_ROWS = 18  # table rows shown (the best by mean I-AUROC when there are more)


def summarize(res):
    means = []
    for ds in res.datasets():
        for m in res.methods(ds):
            for v in res.variants(ds):
                if not res.select(dataset=ds, method=m, variant=v):
                    continue
                i, n = res.class_mean(ds, m, v, "i_auroc")
                p, _ = res.class_mean(ds, m, v, "p_auroc")
                means.append({"dataset": ds, "method": m, "variant": v, "i_auroc": i, "p_auroc": p, "classes": n})
    ok = [t for t in res.tasks if t.ok]
    return {
        "tasks": len(res.tasks), "ok": len(ok), "failed": len(res.tasks) - len(ok),
        "task_seconds": float(sum(t.seconds for t in res.tasks)),
        "means": means,
        "slowest": [[t.key, t.seconds] for t in sorted(res.tasks, key=lambda t: -t.seconds)[:5]],
        "failures": [[t.key, t.error] for t in res.tasks if not t.ok],
    }


def short(text, n):
    """text cut to n characters (keys and variants have no spaces for textwrap to break at)."""
    return text if len(text) <= n else text[:n - 3] + "..."


def fmt(v):
    return f"{v:.3f}" if isinstance(v, float) and math.isfinite(v) else "-"


def draw(res, png):
    s = summarize(res)
    a = res.attrs
    nrows = min(len(s["means"]), MAX_ROWS)
    fig = plt.figure(figsize=(8.27, 11.69))
    grid = fig.add_gridspec(4, 2, height_ratios=[0.7, 0.5 + 0.11 * nrows, 1.6, 1.3], hspace=0.35, wspace=0.3,
                            left=0.08, right=0.96, top=0.97, bottom=0.05)

    head = fig.add_subplot(grid[0, :])
    head.axis("off")
    sweep = ", ".join(res.swept_keys()) or "none"
    lines = [
        f"{os.path.basename(res.path)}   (ad3d {a.get('program_version', '?')}, results format {a.get('format_version')})",
        f"started {a.get('start_time', '?')}, ended {a.get('end_time') or '(not closed: running, or interrupted)'}",
        f"{a.get('ranks', '?')} rank(s) on {a.get('hosts', '?')}; seed {a.get('seed', '?')}; swept: {sweep}",
        f"tasks: {s['tasks']} recorded, {s['ok']} ok, {s['failed']} failed; {s['task_seconds']:.1f} s of task time",
    ]
    head.text(0, 1, "ad3d results summary", fontsize=15, weight="bold", va="top")
    head.text(0, 0.72, "\n".join(lines), fontsize=9, va="top", family="monospace")

    # table of means, best first when it has to be cut
    rows = sorted(s["means"], key=lambda r: -(r["i_auroc"] if math.isfinite(r["i_auroc"]) else -1))
    cut = len(rows) > MAX_ROWS
    rows = rows[:MAX_ROWS] if cut else s["means"]
    tab = fig.add_subplot(grid[1, :])
    tab.axis("off")
    cells = [[r["dataset"], r["method"], short(r["variant"], 48), fmt(r["i_auroc"]), fmt(r["p_auroc"]),
              str(r["classes"])] for r in rows]
    if cells:
        t = tab.table(cellText=cells, colLabels=["dataset", "method", "variant", "I-AUROC", "P-AUROC", "classes"],
                      loc="upper center", cellLoc="left", colWidths=[0.14, 0.16, 0.42, 0.1, 0.1, 0.08])
        t.auto_set_font_size(False)
        t.set_fontsize(7.5)
        t.scale(1, 1.15)
    tab.set_title("mean over classes" + (f" (best {MAX_ROWS} of {len(s['means'])} by I-AUROC)" if cut else ""),
                  fontsize=10)

    # bars: mean I-AUROC / P-AUROC per (dataset, method), of the first variant
    bars = fig.add_subplot(grid[2, :])
    first = [r for r in s["means"] if r["variant"] == res.variants(r["dataset"])[0]]
    x = np.arange(len(first))
    bars.bar(x - 0.2, [r["i_auroc"] if math.isfinite(r["i_auroc"]) else 0 for r in first], 0.4, label="I-AUROC")
    bars.bar(x + 0.2, [r["p_auroc"] if math.isfinite(r["p_auroc"]) else 0 for r in first], 0.4, label="P-AUROC")
    bars.set_xticks(x)
    bars.set_xticklabels([f"{r['method']}\n{r['dataset']}" for r in first], fontsize=7)
    bars.axhline(0.5, color="gray", linewidth=0.8, linestyle="--")
    bars.set_ylim(0, 1)
    bars.legend(fontsize="small", loc="upper right")
    bars.set_title("mean over classes" + (f", variant {first[0]['variant']}" if first else ""), fontsize=10)
    bars.grid(axis="y", alpha=0.3)

    hist = fig.add_subplot(grid[3, 0])
    times = [t.seconds for t in res.tasks]
    if times:
        hist.hist(times, bins=min(30, max(5, len(times) // 3)), color="tab:gray")
    hist.set_xlabel("task time (fit + score), s")
    hist.set_ylabel("tasks")
    hist.set_title("task times", fontsize=10)

    notes = fig.add_subplot(grid[3, 1])
    notes.axis("off")
    text = ["slowest tasks:"] + [f"{t:8.2f} s  {short(k, 44)}" for k, t in s["slowest"]]
    text += ["", f"failed tasks: {s['failed']}"]
    for k, e in s["failures"][:6]:
        text.append(f"  {short(k, 52)}")
        text += [f"    {line}" for line in textwrap.wrap(e, 50)[:2]]
    if s["failed"] > 6:
        text.append(f"  ... and {s['failed'] - 6} more (ad3d status lists them)")
    notes.text(0, 1, "\n".join(text), fontsize=7, va="top", family="monospace")

    fig.savefig(png, dpi=100)
    plt.close(fig)
    s["png"] = png
    return s


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("results")
    ap.add_argument("--out", default="summary.png")
    ap.add_argument("--json")
    a = ap.parse_args()
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    data = draw(ad3dres.Results(a.results), a.out)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(data, f, indent=1)
    print(data["png"])


if __name__ == "__main__":
    main()
