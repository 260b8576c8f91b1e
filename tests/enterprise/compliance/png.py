"""A small PNG reader for screenshot checks (8-bit RGB/RGBA, non-interlaced): no Pillow.

Only what the HTML report's screenshot test needs: the pixels, to find a colour's
bounding box and to tell a blank page from a drawn one.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path


class Image:
    """Decoded pixels: ``rows[y]`` is ``width * channels`` bytes."""

    def __init__(self, width: int, height: int, channels: int, rows: list[bytes]) -> None:
        self.width = width
        self.height = height
        self.channels = channels
        self.rows = rows

    def pixel(self, x: int, y: int) -> tuple[int, int, int]:
        i = x * self.channels
        row = self.rows[y]
        return row[i], row[i + 1], row[i + 2]

    def find(
        self,
        color: tuple[int, int, int],
        tolerance: int = 6,
        box: tuple[int, int, int, int] | None = None,
    ) -> list[tuple[int, int]]:
        """Every (x, y) whose colour is within ``tolerance`` of ``color`` (inside ``box``)."""
        x0, y0, x1, y1 = box or (0, 0, self.width, self.height)
        out = []
        ch = self.channels
        r0, g0, b0 = color
        for y in range(y0, y1):
            row = self.rows[y]
            for x in range(x0, x1):
                i = x * ch
                if (
                    abs(row[i] - r0) <= tolerance
                    and abs(row[i + 1] - g0) <= tolerance
                    and abs(row[i + 2] - b0) <= tolerance
                ):
                    out.append((x, y))
        return out

    def colors(self, step: int = 3) -> dict[tuple[int, int, int], int]:
        """Colour histogram over a grid of every ``step``-th pixel."""
        seen: dict[tuple[int, int, int], int] = {}
        for y in range(0, self.height, step):
            for x in range(0, self.width, step):
                c = self.pixel(x, y)
                seen[c] = seen.get(c, 0) + 1
        return seen


def _paeth(a: int, b: int, c: int) -> int:
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    return b if pb <= pc else c


def read_png(path: Path) -> Image:
    data = path.read_bytes()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG")
    pos = 8
    idat = bytearray()
    width = height = depth = color_type = interlace = 0
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            width, height, depth, color_type, _, _, interlace = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        elif kind == b"IEND":
            break
    if depth != 8 or color_type not in (2, 6) or interlace:
        raise ValueError(f"unsupported PNG (depth {depth}, colour type {color_type})")
    ch = 3 if color_type == 2 else 4
    raw = zlib.decompress(bytes(idat))
    stride = width * ch
    rows: list[bytes] = []
    prev = bytearray(stride)
    pos = 0
    for _ in range(height):
        kind = raw[pos]
        line = bytearray(raw[pos + 1 : pos + 1 + stride])
        pos += 1 + stride
        if kind == 1:
            for i in range(ch, stride):
                line[i] = (line[i] + line[i - ch]) & 0xFF
        elif kind == 2:
            line = bytearray((a + b) & 0xFF for a, b in zip(line, prev, strict=True))
        elif kind == 3:
            for i in range(stride):
                left = line[i - ch] if i >= ch else 0
                line[i] = (line[i] + ((left + prev[i]) >> 1)) & 0xFF
        elif kind == 4:
            for i in range(stride):
                left = line[i - ch] if i >= ch else 0
                up_left = prev[i - ch] if i >= ch else 0
                line[i] = (line[i] + _paeth(left, prev[i], up_left)) & 0xFF
        elif kind != 0:
            raise ValueError(f"bad PNG filter {kind}")
        rows.append(bytes(line))
        prev = line
    return Image(width, height, ch, rows)
