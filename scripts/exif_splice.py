#!/usr/bin/env python3
"""Insert an EXIF APP1 segment (orientation and/or GPS) into a JPEG. Used to build fixtures.

Usage: exif_splice.py IN.jpg OUT.jpg [--orientation N] [--gps]
Stdlib only, so it runs on a bare Debian machine."""
import struct, sys


def tiff(orientation, gps):
    # Big-endian TIFF: header, IFD0 (Orientation, GPS pointer), GPS IFD (lat/lon refs and values).
    entries = []
    if orientation:
        entries.append((0x0112, 3, 1, struct.pack(">HH", orientation, 0)))
    n0 = len(entries) + (1 if gps else 0)
    ifd0_size = 2 + 12 * n0 + 4
    gps_off = 8 + ifd0_size
    if gps:
        entries.append((0x8825, 4, 1, struct.pack(">I", gps_off)))
    out = b"MM\x00\x2a" + struct.pack(">I", 8) + struct.pack(">H", len(entries))
    for tag, typ, count, value in entries:
        out += struct.pack(">HHI", tag, typ, count) + value
    out += struct.pack(">I", 0)
    if gps:
        # 4 entries; rationals stored after the IFD.
        g_entries = 4
        data_off = gps_off + 2 + 12 * g_entries + 4
        lat = struct.pack(">IIIIII", 52, 1, 31, 1, 0, 1)
        lon = struct.pack(">IIIIII", 13, 1, 24, 1, 0, 1)
        out += struct.pack(">H", g_entries)
        out += struct.pack(">HHI", 0x0001, 2, 2) + b"N\x00\x00\x00"
        out += struct.pack(">HHII", 0x0002, 5, 3, data_off)
        out += struct.pack(">HHI", 0x0003, 2, 2) + b"E\x00\x00\x00"
        out += struct.pack(">HHII", 0x0004, 5, 3, data_off + 24)
        out += struct.pack(">I", 0) + lat + lon
    return out


def main():
    src, dst = sys.argv[1], sys.argv[2]
    orientation = int(sys.argv[sys.argv.index("--orientation") + 1]) if "--orientation" in sys.argv else 0
    gps = "--gps" in sys.argv
    data = open(src, "rb").read()
    assert data[:2] == b"\xff\xd8", "not a JPEG"
    payload = b"Exif\x00\x00" + tiff(orientation, gps)
    app1 = b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload
    # After SOI and a JFIF APP0 if present.
    pos = 2
    if data[2:4] == b"\xff\xe0":
        pos = 4 + struct.unpack(">H", data[4:6])[0]
    open(dst, "wb").write(data[:pos] + app1 + data[pos:])


main()
