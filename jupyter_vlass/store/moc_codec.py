"""The stored form of a footprint MOC (``datasets.moc``, with its depth in ``datasets.moc_depth``).

Format 1 (migration 0008): the MOC's range boundaries at its own depth, as the differences of each from the one
before (the first from 0), each an unsigned LEB128 varint. A VLASS Quick Look-sized box at depth 10 takes
61 bytes this way, against 222 as uint32 pairs and 445 as the depth-29 uint64 pairs of release 0.1.0.

Encoding and decoding work on many MOCs at once with numpy (no Python loop per value): the search decodes
every candidate's MOC in one call. This module is the format; a new format gets a new module and a migration.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def encode_many(ranges29: Sequence[np.ndarray], depth: int) -> list[bytes]:
    """Blobs of MOCs given as depth-29 ranges (``(n, 2)`` arrays), all of the same ``depth``."""
    if not len(ranges29):
        return []
    shift = 2 * (29 - depth)
    counts = 2 * np.fromiter(map(len, ranges29), np.int64, len(ranges29))
    values = np.concatenate(ranges29).astype(np.int64).ravel() >> shift
    starts = np.cumsum(counts) - counts
    deltas = np.diff(values, prepend=0)
    first = starts[counts > 0]
    deltas[first] = values[first]
    exponent = np.frexp(np.maximum(deltas, 1).astype(float))[1]  # the bit length (one more near 2^53: harmless)
    nbytes = np.maximum(1, (exponent + 6) // 7)
    out = np.empty(int(nbytes.sum()), np.uint8)
    at = np.cumsum(nbytes) - nbytes
    for k in range(int(nbytes.max(initial=0))):
        has = nbytes > k
        more = (nbytes[has] > k + 1).astype(np.uint8) << 7
        out[at[has] + k] = ((deltas[has] >> (7 * k)) & 0x7F).astype(np.uint8) | more
    per_moc = np.zeros(len(counts), np.int64)
    nonempty = counts > 0
    per_moc[nonempty] = np.add.reduceat(nbytes, starts[nonempty])
    ends = np.cumsum(per_moc)
    data = out.tobytes()
    return [data[b:e] for b, e in zip((ends - per_moc).tolist(), ends.tolist())]


def decode_many(blobs: Sequence[bytes], depth: int) -> tuple[np.ndarray, np.ndarray]:
    """``(ranges, counts)``: the blobs' depth-29 ranges as one ``(n, 2)`` uint64 array, ``counts[i]`` of them
    blob ``i``'s, in order."""
    lengths = np.fromiter((len(b) for b in blobs), np.int64, len(blobs))
    data = np.frombuffer(b"".join(blobs), np.uint8)
    if not len(data):
        return np.zeros((0, 2), np.uint64), np.zeros(len(blobs), np.int64)
    last = (data & 0x80) == 0  # the last byte of a value
    value_starts = np.concatenate([[0], np.flatnonzero(last)[:-1] + 1])
    value_of_byte = np.cumsum(last) - last
    place = np.arange(len(data)) - value_starts[value_of_byte]
    deltas = np.add.reduceat((data & 0x7F).astype(np.int64) << (7 * place), value_starts)
    ends = np.concatenate([[0], np.cumsum(last)])[np.cumsum(lengths)]
    counts = np.diff(ends, prepend=0)
    running = np.cumsum(deltas)
    before = ends - counts
    base = np.where(before > 0, running[np.maximum(before - 1, 0)], 0)
    values = running - np.repeat(base, counts)
    return (values.astype(np.uint64) << np.uint64(2 * (29 - depth))).reshape(-1, 2), counts // 2


def encode(ranges29: np.ndarray, depth: int) -> bytes:
    return encode_many([ranges29], depth)[0]


def decode(blob: bytes, depth: int) -> np.ndarray:
    return decode_many([blob], depth)[0]
