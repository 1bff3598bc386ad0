"""One way to keep arrays and a text in bytes, for the caches that must load fast and prove what they hold.

A packed record is ``PACK`` + a 4-byte header length + a JSON header (what the record is, and each array's name,
type and length) + the arrays (little-endian) + the text (UTF-8). Nothing is pickled: the header is JSON, the arrays
are numbers, and a record that is cut short, or whose header does not describe its bytes, is a ValueError.
"""

from __future__ import annotations

import json
import struct
from typing import Any

import numpy as np

MAGIC = b"DAPK"
_TYPES: dict[str, np.dtype[Any]] = {"i4": np.dtype("<i4"), "i8": np.dtype("<i8"), "f4": np.dtype("<f4")}


def pack(header: dict[str, Any], arrays: dict[str, tuple[str, np.ndarray]], text: str) -> bytes:
    """``arrays``: name -> (type code: ``i4``, ``i8`` or ``f4``; values)."""
    return b"".join(pieces(header, arrays, text))


def pieces(header: dict[str, Any], arrays: dict[str, tuple[str, np.ndarray]], text: str) -> list[bytes | memoryview]:
    """The packed record in pieces, one after another, each array's values where they lie when they are already of
    its type (a record of tens of megabytes is written to a file without being copied whole first)."""
    layout = [[name, code, int(values.size)] for name, (code, values) in arrays.items()]
    head = json.dumps({**header, "arrays": layout}, ensure_ascii=False).encode("utf-8", "surrogatepass")
    body = [np.ascontiguousarray(values, dtype=_TYPES[code]).data.cast("B") for code, values in arrays.values()]
    return [MAGIC + struct.pack("<I", len(head)) + head, *body, text.encode("utf-8", "surrogatepass")]


def unpack(blob: bytes) -> tuple[dict[str, Any], dict[str, np.ndarray], str, int]:
    """The header, the arrays (read-only views of ``blob``), the text and its length in bytes; ValueError when the
    bytes are not a packed record."""
    if blob[:4] != MAGIC or len(blob) < 8:
        raise ValueError("not a packed record")
    (size,) = struct.unpack("<I", blob[4:8])
    header = json.loads(blob[8 : 8 + size])
    layout = header.get("arrays") if isinstance(header, dict) else None
    if not isinstance(layout, list):
        raise ValueError("a record without its arrays")
    arrays: dict[str, np.ndarray] = {}
    at = 8 + size
    for item in layout:
        if not (isinstance(item, list) and len(item) == 3 and item[1] in _TYPES and isinstance(item[2], int)):
            raise ValueError("an array described wrongly")
        name, code, count = item
        if count < 0 or at + count * _TYPES[code].itemsize > len(blob):
            raise ValueError("a record cut short")
        arrays[str(name)] = np.frombuffer(blob, dtype=_TYPES[code], count=count, offset=at)
        at += count * _TYPES[code].itemsize
    return header, arrays, blob[at:].decode("utf-8", "surrogatepass"), len(blob) - at
