"""The index: versioned snapshots of the corpus (dense FAISS, lexical BM25, the chunk table and
a manifest), behind one store seam (``store``) with two stores: a folder (``folder``, laid out
by ``layout``) and PostgreSQL (``pgstore``, chosen by ``backends.open_store``)."""

from mscqa.index.dense import HNSW_ABOVE, SentenceTable, make_dense_index
from mscqa.index.folder import FolderStore, FolderWriter, load_current, load_snapshot, save_snapshot
from mscqa.index.layout import (
    current_version,
    folder_writer_lock,
    list_versions,
    models_dir,
    prune,
    prune_models,
    publish,
)
from mscqa.index.lexical import LexicalIndex, Tokens, tokenize
from mscqa.index.manifest import (
    FIX,
    FORMAT_VERSION,
    Counts,
    Manifest,
    ModelInfo,
    QueryModel,
    Storage,
)
from mscqa.index.snapshot import Snapshot
from mscqa.index.store import (
    IndexSnapshot,
    SnapshotParts,
    SnapshotStore,
    SnapshotWriter,
    TermStats,
    chunk_words,
    dense_text,
    lexical_text,
    sentence_text,
)

__all__ = [
    "FIX",
    "FORMAT_VERSION",
    "HNSW_ABOVE",
    "Counts",
    "FolderStore",
    "FolderWriter",
    "IndexSnapshot",
    "LexicalIndex",
    "Manifest",
    "ModelInfo",
    "QueryModel",
    "SentenceTable",
    "Snapshot",
    "SnapshotParts",
    "SnapshotStore",
    "SnapshotWriter",
    "Storage",
    "TermStats",
    "Tokens",
    "chunk_words",
    "current_version",
    "dense_text",
    "folder_writer_lock",
    "lexical_text",
    "list_versions",
    "load_current",
    "load_snapshot",
    "make_dense_index",
    "models_dir",
    "prune",
    "prune_models",
    "publish",
    "save_snapshot",
    "sentence_text",
    "tokenize",
]
