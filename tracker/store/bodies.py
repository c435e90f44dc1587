"""Bodies by their sha256, zstd-compressed, and JSON compressed against the body it was derived from.

A body may be a delta against an earlier body of its policy (consecutive captures of a page
are nearly identical). Cached documents and change details are compressed with a body as
dictionary, as their words are mostly that body's. The captures and history repositories
share one ``Bodies``.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass

import zstandard

from tracker.store.connection import Connection

ZSTD_LEVEL = 10  # bodies: compressed once, when their capture is stored
# Documents and change details are compressed by the hundred in every rebuild that derives them.
DERIVED_LEVEL = 5
# A body may be stored as a delta against an earlier body of its policy, itself maybe a delta:
# reading one decodes at most this many others first.
MAX_DEPTH = 32
# Bodies read along a timeline are each other's bases: the decoded ones are kept, up to this size.
DECODED_BYTES = 16 << 20


@dataclass(frozen=True)
class PackedJson:
    """JSON to store in ``table``, compressed with ``body`` as dictionary (None: the table
    held it when it was packed)."""

    table: str
    text: bytes
    body: str | None
    sha256: str
    data: bytes | None


class Bodies:
    def __init__(self, db: Connection):
        self.db = db
        self._decoded: OrderedDict[str, bytes] = OrderedDict()
        self._decoded_bytes = 0

    def get(self, sha256: str) -> bytes:
        body = self._decoded.get(sha256)
        if body is not None:
            self._decoded.move_to_end(sha256)
            return body
        row = self.db.execute("SELECT compression, base, data FROM bodies WHERE sha256 = ?", (sha256,)).fetchone()
        if row is None:
            raise KeyError(sha256)
        compression, base, data = row
        body = self.unpack(data, base) if compression == "zstd" else data
        self._remember(sha256, body)
        return body

    def _remember(self, sha256: str, body: bytes) -> None:
        """Keep a decoded body: the next capture's body is likely a delta against it. Bodies
        never change under their sha256, so a kept one is never stale."""
        self._decoded[sha256] = body
        self._decoded_bytes += len(body)
        while self._decoded_bytes > DECODED_BYTES and len(self._decoded) > 1:
            self._decoded_bytes -= len(self._decoded.popitem(last=False)[1])

    def has(self, sha256: str) -> bool:
        return self.db.execute("SELECT 1 FROM bodies WHERE sha256 = ?", (sha256,)).fetchone() is not None

    def put(self, sha256: str, body: bytes, base: tuple[str, int] | None) -> int:
        """Store (or store again) a body: a delta against ``base`` (sha256, depth) when that
        is smaller than the body compressed alone and the chain of bases stays within
        MAX_DEPTH; returns its depth. The base is a stored body, referenced by foreign key: a
        delta's dictionary cannot go missing."""
        data, depth, base_sha = _pack(body, None, ZSTD_LEVEL), 0, None
        if base is not None and base[1] < MAX_DEPTH:
            delta = _pack(body, self.get(base[0]), ZSTD_LEVEL)
            if len(delta) < len(data):
                data, depth, base_sha = delta, base[1] + 1, base[0]
        self.db.execute(
            "INSERT INTO bodies (sha256, size, compression, base, depth, data) VALUES (?, ?, 'zstd', ?, ?, ?) "
            "ON CONFLICT(sha256) DO UPDATE SET compression = 'zstd', base = excluded.base, "
            "depth = excluded.depth, data = excluded.data",
            (sha256, len(body), base_sha, depth, data))
        return depth

    def put_json(self, table: str, text: bytes, body: str | None) -> str:
        """Store JSON once per content in ``table``, compressed with ``body`` (one it was
        derived from, its words mostly the same) as dictionary; returns the JSON's sha256."""
        return self.put_packed(self.pack_json(table, text, body))

    def pack_json(self, table: str, text: bytes, body: str | None) -> PackedJson:
        """JSON for ``put_packed``, compressed unless ``table`` holds it already: before the
        write that stores it, as no other process can write while it is compressed."""
        sha256 = hashlib.sha256(text).hexdigest()
        stored = self.db.execute(f"SELECT 1 FROM {table} WHERE sha256 = ?", (sha256,)).fetchone() is not None
        return PackedJson(table, text, body, sha256,
                          None if stored else _pack(text, self.get(body) if body else None, DERIVED_LEVEL))

    def put_packed(self, packed: PackedJson) -> str:
        """Store packed JSON (inside the caller's transaction); returns its sha256."""
        data = packed.data
        if data is None:  # held when packed, and maybe no longer: it is held now, or compressed again
            if self.db.execute(f"SELECT 1 FROM {packed.table} WHERE sha256 = ?", (packed.sha256,)).fetchone():
                return packed.sha256
            data = _pack(packed.text, self.get(packed.body) if packed.body else None, DERIVED_LEVEL)
        self.db.execute(f"INSERT INTO {packed.table} (sha256, body, data) VALUES (?, ?, ?) "
                        "ON CONFLICT (sha256) DO NOTHING", (packed.sha256, packed.body, data))
        return packed.sha256

    def unpack(self, data: bytes, dictionary: str | None) -> bytes:
        """Decompress what was compressed with the body ``dictionary`` (or none) as dictionary."""
        if dictionary is None:
            return zstandard.ZstdDecompressor().decompress(data)
        return zstandard.ZstdDecompressor(dict_data=_raw_dictionary(self.get(dictionary))).decompress(data)


def _raw_dictionary(content: bytes) -> zstandard.ZstdCompressionDict:
    return zstandard.ZstdCompressionDict(content, dict_type=zstandard.DICT_TYPE_RAWCONTENT)


def _pack(data: bytes, dictionary: bytes | None, level: int) -> bytes:
    """zstd, with another content as dictionary when given: what the two share costs almost nothing."""
    if dictionary is None:
        return zstandard.ZstdCompressor(level=level).compress(data)
    return zstandard.ZstdCompressor(level=level, dict_data=_raw_dictionary(dictionary)).compress(data)
