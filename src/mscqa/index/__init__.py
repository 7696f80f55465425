"""The index folder: versioned snapshots (dense FAISS, lexical BM25, chunk table, manifest),
written atomically, checked on load, published and pruned."""

from mscqa.index.lexical import LexicalIndex, tokenize
from mscqa.index.snapshot import (
    Snapshot,
    current_version,
    list_versions,
    load_current,
    load_snapshot,
    publish,
    save_snapshot,
)

__all__ = [
    "LexicalIndex",
    "Snapshot",
    "current_version",
    "list_versions",
    "load_current",
    "load_snapshot",
    "publish",
    "save_snapshot",
    "tokenize",
]
