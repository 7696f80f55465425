"""Error hierarchy. Messages say what happened and what to do about it.

Only the edges translate these: the HTTP layer into ``{"detail": ...}`` with a 4xx/503, the CLI
into ``Error: ...`` on stderr and exit code 1.
"""


class MscqaError(Exception):
    """Base class for every error this package raises on purpose."""


class ConfigError(MscqaError):
    """A setting is missing or invalid."""


class InvalidQuestion(MscqaError):
    """The question cannot be answered as asked (empty, too long, bad history)."""


class NoIndexError(MscqaError):
    """There is no index snapshot to answer from yet."""


class IndexNotReady(MscqaError):
    """The index is being loaded; try again shortly."""


class SnapshotError(MscqaError):
    """An index snapshot is missing files, corrupted, or incompatible with the settings."""


class CorpusError(MscqaError):
    """The corpus folder cannot be read, or holds no usable document."""


class BuildInProgress(MscqaError):
    """Another process holds the index writer lock."""


class ModelError(MscqaError):
    """The embedding model cannot be found or loaded."""
