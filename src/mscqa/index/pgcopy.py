"""pgvector values as numpy arrays, and bulk COPY of vector and integer matrices in COPY's
binary format (built with numpy: about 1 GB/s, against ~10 us a row through ``write_row``)."""

from __future__ import annotations

import struct
from typing import Any

import numpy as np


def register_vectors(adapters: Any, oid: int) -> None:
    """Load pgvector's ``vector`` (type ``oid``) as float32 arrays; dump numpy arrays as it."""
    adapters.register_loader(oid, _VectorBinaryLoader)
    adapters.register_loader(oid, _VectorTextLoader)
    dumper = type("VectorDumper", (_VectorDumper,), {"oid": oid})
    adapters.register_dumper(np.ndarray, dumper)


def _vector_types() -> tuple[type, type, type]:
    from psycopg.adapt import Dumper, Loader
    from psycopg.pq import Format

    class VectorDumper(Dumper):
        """numpy float vector -> pgvector's binary form (dim, unused, big-endian float4s)."""

        format = Format.BINARY

        def dump(self, obj: Any) -> bytes:
            vec = np.asarray(obj, dtype=">f4").ravel()
            return struct.pack(">HH", len(vec), 0) + vec.tobytes()

    class VectorBinaryLoader(Loader):
        format = Format.BINARY

        def load(self, data: Any) -> np.ndarray:
            return np.frombuffer(bytes(data), dtype=">f4", offset=4).astype(np.float32)

    class VectorTextLoader(Loader):
        format = Format.TEXT

        def load(self, data: Any) -> np.ndarray:
            return np.array(bytes(data)[1:-1].split(b","), dtype=np.float32)

    return VectorDumper, VectorBinaryLoader, VectorTextLoader


_VectorDumper, _VectorBinaryLoader, _VectorTextLoader = _vector_types()


def vector_copy(ids: np.ndarray, vectors: np.ndarray, extra: np.ndarray | None = None) -> bytes:
    """Rows ``(id, [extra,] vector)`` in COPY's binary format, header and trailer included.

    Built with numpy in one pass: about 1 GB/s, against ~10 us a row through ``write_row``.
    """
    n, dim = vectors.shape
    fields: list[tuple[Any, ...]] = [("count", ">i2"), ("id_len", ">i4"), ("id", ">i4")]
    if extra is not None:
        fields += [("extra_len", ">i4"), ("extra", ">i4")]
    fields += [("vec_len", ">i4"), ("dim", ">i2"), ("unused", ">i2"), ("vec", ">f4", (dim,))]
    rows = np.empty(n, dtype=np.dtype(fields))
    rows["count"] = 2 if extra is None else 3
    rows["id_len"] = 4
    rows["id"] = ids
    if extra is not None:
        rows["extra_len"] = 4
        rows["extra"] = extra
    rows["vec_len"] = 4 + 4 * dim
    rows["dim"] = dim
    rows["unused"] = 0
    rows["vec"] = vectors
    return b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0) + rows.tobytes() + b"\xff\xff"


def int_copy(columns: list[np.ndarray]) -> bytes:
    """Rows of int4 ``columns`` in COPY's binary format, header and trailer included."""
    n = len(columns[0]) if columns else 0
    fields: list[tuple[Any, ...]] = [("count", ">i2")]
    for i in range(len(columns)):
        fields += [(f"len{i}", ">i4"), (f"v{i}", ">i4")]
    rows = np.empty(n, dtype=np.dtype(fields))
    rows["count"] = len(columns)
    for i, col in enumerate(columns):
        rows[f"len{i}"] = 4
        rows[f"v{i}"] = col
    return b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0) + rows.tobytes() + b"\xff\xff"


def copy_vectors(
    cur: Any,
    table: Any,
    columns: tuple[str, ...],
    vectors: np.ndarray,
    extra: np.ndarray | None = None,
    batch: int = 20_000,
) -> None:
    """COPY ``vectors`` into ``table`` with ids 0..n-1 (``columns`` name id, [extra,] vector)."""
    from psycopg import sql

    statement = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT BINARY)").format(
        table, sql.SQL(", ").join(map(sql.Identifier, columns))
    )
    for start in range(0, max(1, len(vectors)), batch):
        part = vectors[start : start + batch]
        if not len(part):
            break
        ids = np.arange(start, start + len(part), dtype=np.int32)
        more = None if extra is None else extra[start : start + batch]
        with cur.copy(statement) as copy:
            copy.write(vector_copy(ids, np.asarray(part, dtype=np.float32), more))
