"""Which store holds the index: the folder (default) or PostgreSQL (``MSCQA_DATABASE_URL``)."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from pydantic import SecretStr

from mscqa.index.folder import FolderStore
from mscqa.index.layout import models_dir
from mscqa.index.lexical import Tokens
from mscqa.index.store import SnapshotStore


class StoreSettings(Protocol):
    """The settings ``open_store`` reads (``config.Settings`` has them)."""

    index_dir: Path
    database_url: SecretStr | None
    database_pool_size: int
    database_build_memory_mb: int


def open_store(settings: StoreSettings, tokens: Tokens | None = None) -> SnapshotStore:
    """The folder store in ``MSCQA_INDEX_DIR``, or the database when ``MSCQA_DATABASE_URL`` is
    set (the index folder then keeps only this machine's ONNX model exports). ``tokens``: the
    token memo it tokenises through (a build cache's; default: the store's own)."""
    if settings.database_url is None:
        return FolderStore(settings.index_dir, tokens)
    from mscqa.index.pgstore import PgStore

    return PgStore(
        settings.database_url.get_secret_value(),
        models_dir(settings.index_dir),
        pool_size=settings.database_pool_size,
        build_memory_mb=settings.database_build_memory_mb,
        tokens=tokens,
    )
