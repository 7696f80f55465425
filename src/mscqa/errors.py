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


class Overloaded(MscqaError):
    """The server is refusing questions as busy; retry shortly."""


class DatabaseUnavailable(IndexNotReady):
    """The PostgreSQL index database cannot be reached (down, restarting, network); retry."""


class ReplyTooLarge(MscqaError):
    """An answer is larger than MSCQA_MAX_REPLY_KB even without its extra passages."""


class SnapshotError(MscqaError):
    """An index snapshot is missing files, corrupted, or incompatible with the settings."""


class CorpusError(MscqaError):
    """The corpus folder cannot be read, or holds no usable document."""


class BuildInProgress(MscqaError):
    """Another process holds the index writer lock."""


class ModelError(MscqaError):
    """The embedding model cannot be found or loaded."""


class InvalidUpload(MscqaError):
    """An upload or a document id is malformed (unsafe file name, bad form); nothing changed."""


class UnsupportedFileType(MscqaError):
    """An uploaded file's type cannot be indexed."""


class UploadTooLarge(MscqaError):
    """An uploaded file is larger than MSCQA_MAX_UPLOAD_MB."""


class FileConflict(MscqaError):
    """A corpus file with that name already exists with different content."""


class NotFound(MscqaError):
    """No corpus file or rebuild job has that id."""


class JobConflict(MscqaError):
    """A rebuild is already queued or running; ``job_id`` names it."""

    def __init__(self, message: str, job_id: str) -> None:
        super().__init__(message)
        self.job_id = job_id
