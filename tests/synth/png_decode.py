#!/usr/bin/python3
"""Decode a PNG with the standard library only (struct + zlib) and write its pixels as a binary PPM.

An independent decoder for tests/synth/test_render.c: it checks the signature, every chunk's CRC,
the IHDR fields (8-bit RGB, no interlace), the zlib stream (zlib.decompress checks the Adler-32),
and undoes all five row filters. Usage: png_decode.py IN.png OUT.ppm; exits 1 with a message on
any problem.
"""
import struct
import sys
import zlib


def fail(msg):
    sys.stderr.write("png_decode: %s\n" % msg)
    sys.exit(1)


def paeth(a, b, c):
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    return b if pb <= pc else c


def main():
    data = open(sys.argv[1], "rb").read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        fail("bad signature")
    pos, idat, ihdr, seen_end = 8, b"", None, False
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        (crc,) = struct.unpack(">I", data[pos + 8 + n:pos + 12 + n])
        if zlib.crc32(kind + body) & 0xffffffff != crc:
            fail("CRC mismatch in %s" % kind)
        if kind == b"IHDR":
            ihdr = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        elif kind == b"IEND":
            seen_end = True
        pos += 12 + n
    if ihdr is None or not seen_end:
        fail("missing IHDR or IEND")
    w, h, depth, ctype, comp, filt, inter = ihdr
    if (depth, ctype, comp, filt, inter) != (8, 2, 0, 0, 0):
        fail("unexpected IHDR %r" % (ihdr,))
    raw = zlib.decompress(idat)
    stride = 3 * w
    if len(raw) != h * (stride + 1):
        fail("%d bytes of image data, expected %d" % (len(raw), h * (stride + 1)))
    out = bytearray(h * stride)
    prev = bytearray(stride)
    for y in range(h):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for x in range(stride):
            a = line[x - 3] if x >= 3 else 0
            b = prev[x]
            c = prev[x - 3] if x >= 3 else 0
            if f == 0:
                pass
            elif f == 1:
                line[x] = (line[x] + a) & 255
            elif f == 2:
                line[x] = (line[x] + b) & 255
            elif f == 3:
                line[x] = (line[x] + (a + b) // 2) & 255
            elif f == 4:
                line[x] = (line[x] + paeth(a, b, c)) & 255
            else:
                fail("bad filter %d on row %d" % (f, y))
        out[y * stride:(y + 1) * stride] = line
        prev = line
    with open(sys.argv[2], "wb") as o:
        o.write(b"P6\n%d %d\n255\n" % (w, h))
        o.write(bytes(out))


if __name__ == "__main__":
    main()
