"""Read and compare ad3d results files with h5py alone, following src/store/FORMAT.md (open plainly,
else SWMR; committed rows only; the latest row per key; scores through offsets). The tests of this
folder use it as the independent reader of what the C code wrote."""
import h5py
import numpy as np

METRICS = ("status", "i_auroc", "p_auroc", "i_ap", "p_ap", "nsamples", "npoints")


class Mismatch(Exception):
    pass


def open_results(path):
    try:
        return h5py.File(path, "r")
    except OSError:
        return h5py.File(path, "r", swmr=True)


def attrs(path):
    with open_results(path) as f:
        return {k: (v.decode() if isinstance(v, bytes) else v) for k, v in f.attrs.items()}


def read(path):
    """{key: (record dict, scores dict or None)}, keys in first-recorded order."""
    res = {}
    with open_results(path) as f:
        if f.attrs["format_version"] != 1:
            raise Mismatch(f"{path}: format version {f.attrs['format_version']}")
        rows = f["tasks"][...]
        latest = {}
        for i, row in enumerate(rows):
            if row["committed"] == 1 and row["key"] != b"":
                latest[row["key"].decode()] = i
        names = f["samples/name"][...]
        labels = f["samples/label"][...]
        objs = f["samples/object_score"][...]
        pscore, plabel = f["points/score"][...], f["points/label"][...]
        for key, i in latest.items():
            row = rows[i]
            rec = {n: (row[n].decode() if isinstance(row[n], bytes) else row[n]) for n in rows.dtype.names}
            sc = None
            if row["sample_start"] >= 0:
                s0, ns, p0, npt = row["sample_start"], row["nsamples"], row["point_start"], row["npoints"]
                sc = {"names": [x.decode() for x in names[s0:s0 + ns]], "label": labels[s0:s0 + ns],
                      "object_score": objs[s0:s0 + ns], "point_score": pscore[p0:p0 + npt],
                      "point_label": plabel[p0:p0 + npt]}
            res[key] = (rec, sc)
    return res


def compare(a, b, what):
    """Raise Mismatch unless a and b (from read) hold the same tasks, metrics and scores."""
    if sorted(a) != sorted(b):
        raise Mismatch(f"{what}: different task keys\n{sorted(a)}\n{sorted(b)}")
    for k in a:
        (ra, sa), (rb, sb) = a[k], b[k]
        for m in METRICS:
            va, vb = ra[m], rb[m]
            same = va == vb or (isinstance(va, float) and np.isnan(va) and np.isnan(vb))
            if not same:
                raise Mismatch(f"{what}: {k}: {m} {va} != {vb}")
        if (sa is None) != (sb is None):
            raise Mismatch(f"{what}: {k}: scores in one file only")
        if sa is None:
            continue
        if sa["names"] != sb["names"]:
            raise Mismatch(f"{what}: {k}: sample names differ")
        for f_ in ("label", "object_score", "point_score", "point_label"):
            if not np.array_equal(sa[f_], sb[f_]):
                raise Mismatch(f"{what}: {k}: {f_} differ")
