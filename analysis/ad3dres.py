"""ad3dres - read an ad3d results file with h5py and numpy only, as src/store/FORMAT.md says.

The analysis scripts beside this module share it; it reads the results file and nothing else.

    import ad3dres
    res = ad3dres.Results("results.h5")
    for t in res.tasks:                      # the latest committed record per key, first-recorded order
        print(t.key, t.method, t.cls, t.variant, t.i_auroc, t.p_auroc)
    sc = res.scores(res.tasks[0].key)        # names, labels, object_score, point_score, point_label
    fpr, tpr = ad3dres.roc_curve(sc.label, sc.object_score)

Reading rules (FORMAT.md): open plainly, else (a run still writing, or killed) with SWMR read;
refuse a format version other than 1; count only rows with committed == 1 and a key; a key's
latest row supersedes the earlier ones, keys listed in the order they were first recorded; scores
through sample_start / nsamples and point_start / npoints (-1: a failed task, no scores).
"""
import math
import re
from dataclasses import dataclass

import h5py
import numpy as np

FORMAT_VERSION = 1
FIELDS_TEXT = ("key", "method", "dataset", "class", "variant", "error", "recorded_at")
FIELDS_NUM = ("status", "rank", "i_auroc", "p_auroc", "i_ap", "p_ap", "aupro", "fit_s", "score_s",
              "peak_rss_kb", "nsamples", "npoints", "sample_start", "point_start")


class FormatError(Exception):
    pass


def open_results(path):
    """h5py.File of a results file: plainly, or in SWMR read mode when HDF5 refuses (FORMAT.md rule 1)."""
    try:
        return h5py.File(path, "r")
    except OSError:
        return h5py.File(path, "r", swmr=True)


def _text(v):
    return v.decode("utf-8", errors="replace") if isinstance(v, (bytes, np.bytes_)) else str(v)


@dataclass
class Task:
    key: str
    method: str
    dataset: str
    cls: str
    variant: str
    status: int
    rank: int
    i_auroc: float
    p_auroc: float
    i_ap: float
    p_ap: float
    aupro: float
    fit_s: float
    score_s: float
    peak_rss_kb: int
    nsamples: int
    npoints: int
    error: str
    recorded_at: str
    sample_start: int
    point_start: int

    @property
    def ok(self):
        return self.status == 0

    @property
    def seconds(self):
        return self.fit_s + self.score_s

    @property
    def params(self):
        """The variant as {key: value} ("default": {})."""
        return parse_variant(self.variant)


@dataclass
class Scores:
    names: list
    defects: list
    label: np.ndarray          # (nsamples) uint8
    object_score: np.ndarray   # (nsamples) float64
    npoints: np.ndarray        # (nsamples) int64
    point_score: np.ndarray    # (npoints) float32, samples concatenated in order
    point_label: np.ndarray    # (npoints) uint8


_ITEM_START = re.compile(r",(?=[A-Za-z0-9_.]+=)")


def parse_variant(name):
    """"k=v,k2=v2" -> {"k": "v", "k2": "v2"}; "default" -> {}. A value may hold commas (a list
    "[a, b]"): an item starts only where a comma is followed by "name=", as in ad3d report."""
    if name == "default" or not name:
        return {}
    out = {}
    for item in _ITEM_START.split(name):
        k, _, v = item.partition("=")
        out[k] = v
    return out


def value_sort_key(values):
    """A sort key for the values of a swept key: numeric when they all are numbers, else as given."""
    def num(v):
        try:
            return float(v)
        except ValueError:
            return None
    if all(num(v) is not None for v in values):
        return lambda v: (num(v), v)
    order = {v: i for i, v in enumerate(values)}
    return lambda v: (order.get(v, len(order)), v)


class Results:
    """Every latest committed task record of a results file, and its scores on demand."""

    def __init__(self, path):
        self.path = path
        with open_results(path) as f:
            version = int(f.attrs.get("format_version", -1))
            if version != FORMAT_VERSION:
                raise FormatError(f"{path}: results format version {version}, this reader knows {FORMAT_VERSION}")
            self.attrs = {k: (_text(v) if isinstance(v, (bytes, np.bytes_)) else v.item() if hasattr(v, "item") else v)
                          for k, v in f.attrs.items()}
            rows = f["tasks"][...]
        latest = {}
        for i, row in enumerate(rows):
            if row["committed"] == 1 and row["key"] != b"":
                latest[_text(row["key"])] = i  # dicts keep first insertion: first-recorded order
        self.tasks = []
        for key, i in latest.items():
            row = rows[i]
            vals = {n: _text(row[n]) for n in FIELDS_TEXT}
            vals.update({n: row[n].item() for n in FIELDS_NUM})
            vals["cls"] = vals.pop("class")
            self.tasks.append(Task(**vals))
        self._by_key = {t.key: t for t in self.tasks}

    def task(self, key):
        return self._by_key[key]

    def scores(self, key):
        """The scores of one task; None for a task that recorded none (failed)."""
        t = self._by_key[key]
        if t.sample_start < 0:
            return None
        s0, ns, p0, npt = t.sample_start, t.nsamples, t.point_start, t.npoints
        with open_results(self.path) as f:
            pstart = f["samples/point_start"][s0:s0 + ns]
            npoints = f["samples/npoints"][s0:s0 + ns]
            if ns and (pstart[0] != p0 or np.any(pstart[1:] != pstart[:-1] + npoints[:-1])):
                raise FormatError(f"{self.path}: task {key}: inconsistent point offsets")
            return Scores(names=[_text(x) for x in f["samples/name"][s0:s0 + ns]],
                          defects=[_text(x) for x in f["samples/defect"][s0:s0 + ns]],
                          label=f["samples/label"][s0:s0 + ns], object_score=f["samples/object_score"][s0:s0 + ns],
                          npoints=npoints, point_score=f["points/score"][p0:p0 + npt],
                          point_label=f["points/label"][p0:p0 + npt])

    # ---- groupings ----

    def datasets(self):
        return list(dict.fromkeys(t.dataset for t in self.tasks))

    def methods(self, dataset=None):
        return list(dict.fromkeys(t.method for t in self.tasks if dataset in (None, t.dataset)))

    def classes(self, dataset=None):
        return sorted({t.cls for t in self.tasks if dataset in (None, t.dataset)})

    def variants(self, dataset=None):
        vs = list(dict.fromkeys(t.variant for t in self.tasks if dataset in (None, t.dataset)))
        return sorted(vs, key=natural_key)

    def swept_keys(self):
        """Config keys the variants set, in order of appearance."""
        return list(dict.fromkeys(k for t in self.tasks for k in t.params))

    def select(self, **where):
        """Tasks whose attributes equal the given values (e.g. dataset="quick", method="btf_raw")."""
        return [t for t in self.tasks if all(getattr(t, k) == v for k, v in where.items())]

    def class_mean(self, dataset, method, variant, metric):
        """Mean of `metric` ("i_auroc" or "p_auroc") over the classes of a (dataset, method,
        variant), failed and NaN tasks left out; (mean, classes counted)."""
        vals = [getattr(t, metric) for t in self.select(dataset=dataset, method=method, variant=variant)
                if t.ok and math.isfinite(getattr(t, metric))]
        return (float(np.mean(vals)) if vals else math.nan), len(vals)


def natural_key(s):
    """Sort key where runs of digits compare as numbers ("k=5" before "k=10")."""
    return [(0, float(p), "") if re.fullmatch(r"\d+(\.\d+)?", p) else (1, 0.0, p)
            for p in re.split(r"(\d+(?:\.\d+)?)", s) if p]


def roc_curve(labels, scores):
    """ROC curve points (fpr, tpr) from (0, 0) to (1, 1), one point per distinct score (tied
    scores form one step), highest threshold first. None if one class is absent."""
    labels = np.asarray(labels).astype(bool)
    scores = np.asarray(scores, dtype=np.float64)
    npos, nneg = int(labels.sum()), int((~labels).sum())
    if npos == 0 or nneg == 0:
        return None
    order = np.argsort(-scores, kind="mergesort")
    s, y = scores[order], labels[order]
    last_of_tie = np.r_[np.nonzero(np.diff(s))[0], len(s) - 1]
    tp = np.cumsum(y)[last_of_tie]
    fp = (last_of_tie + 1) - tp
    return np.r_[0.0, fp / nneg], np.r_[0.0, tp / npos]


def auc(fpr, tpr):
    """Area under a piecewise-linear curve (trapezoids): equal to the rank-based AUROC with ties
    counted one half when the curve comes from roc_curve."""
    return float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2.0))


def slug(text):
    """A file-name-safe form of a dataset or variant name."""
    return re.sub(r"[^A-Za-z0-9_.=-]+", "_", text).strip("_") or "x"
