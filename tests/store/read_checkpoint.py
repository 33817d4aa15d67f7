#!/usr/bin/env python3
"""read_checkpoint.py - an independent (h5py) reader of ad3d checkpoints, for tests/store/test_checkpoint.c.

Usage: read_checkpoint.py CHECKPOINT.h5 MANIFEST

MANIFEST (written by the C test) has lines
    attr NAME VALUE              a root attribute (integers compared exactly, strings as text)
    config NAME VALUE            an attribute of /config
    tensor GROUP NAME RAW OFFSET D0 [D1 [D2]]   dataset GROUP/NAME: float32 of shape (D0, ...), equal
                                 bit for bit to float32 values OFFSET.. of the raw file RAW
    history NAME V0 V1 ...       /history/NAME (float64), exactly these values (repr of doubles)
    groups G1 G2 ...             the root holds exactly these groups
Everything FORMAT.md promises is checked; the exit status is 1 with a message on the first mismatch.
"""
import sys

import h5py
import numpy as np


def fail(msg):
    print("read_checkpoint.py: " + msg, file=sys.stderr)
    sys.exit(1)


def main():
    path, manifest = sys.argv[1], sys.argv[2]
    f = h5py.File(path, "r")
    if f.attrs["format"].decode() != "ad3d-checkpoint":
        fail("format attribute is %r" % f.attrs["format"])
    raws = {}
    for line in open(manifest):
        w = line.split()
        if not w:
            continue
        kind = w[0]
        if kind == "attr" or kind == "config":
            attrs = f.attrs if kind == "attr" else f["config"].attrs
            got = attrs[w[1]]
            if isinstance(got, bytes):
                if got.decode() != " ".join(w[2:]).replace("\\n", "\n"):
                    fail("%s %s: %r != %r" % (kind, w[1], got, w[2:]))
            elif isinstance(got, (np.floating, float)):
                if float(got) != float(w[2]):
                    fail("%s %s: %r != %s" % (kind, w[1], got, w[2]))
            elif int(got) != int(w[2]):
                fail("%s %s: %r != %s" % (kind, w[1], got, w[2]))
        elif kind == "tensor":
            group, name, raw, off = w[1], w[2], w[3], int(w[4])
            shape = tuple(int(x) for x in w[5:])
            if raw not in raws:
                raws[raw] = np.fromfile(raw, dtype="<f4")
            d = f[group][name]
            if d.dtype != np.dtype("<f4"):
                fail("%s/%s has dtype %s" % (group, name, d.dtype))
            if d.shape != shape:
                fail("%s/%s has shape %s, expected %s" % (group, name, d.shape, shape))
            want = raws[raw][off:off + int(np.prod(shape))].reshape(shape)
            if not np.array_equal(d[...].view("<u4"), want.view("<u4")):
                fail("%s/%s differs from the model's values" % (group, name))
        elif kind == "history":
            got = f["history"][w[1]][...]
            want = np.array([float(x) for x in w[2:]], dtype=np.float64)
            if got.dtype != np.float64 or not np.array_equal(got, want):
                fail("history/%s: %r != %r" % (w[1], got, want))
        elif kind == "groups":
            if sorted(f.keys()) != sorted(w[1:]):
                fail("root groups %s, expected %s" % (sorted(f.keys()), sorted(w[1:])))
            for g in ("params", "adam_m", "adam_v", "buffers"):
                n = sum(1 for line2 in open(manifest) if line2.split()[:2] == ["tensor", g])
                if len(f[g].keys()) != n:
                    fail("%s holds %d datasets, the manifest %d" % (g, len(f[g].keys()), n))
        else:
            fail("bad manifest line: " + line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
