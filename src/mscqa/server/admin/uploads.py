"""Storing uploaded documents in the corpus folder, and deleting them, without escaping it.

``StagedFile`` writes an upload into a hidden temporary file in the corpus folder, stopping as
soon as the size limit is passed; ``commit`` then fsyncs the file and links it to its final name,
which never overwrites an existing file (``replace=True`` swaps it atomically). The multipart
form an upload arrives in is parsed by :class:`mscqa.server.admin.forms.UploadReceiver`.

Only a file's base name is kept, and names that are unsafe on any platform are refused.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import logging
import os
import re
import stat
import tempfile
import time
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from mscqa.config import Settings
from mscqa.errors import FileConflict, InvalidUpload, NotFound, UnsupportedFileType, UploadTooLarge
from mscqa.fileio import file_sha256, fsync_dir
from mscqa.ingest.loaders import doc_id_for

log = logging.getLogger(__name__)

ALLOWED_SUFFIXES = (".md", ".markdown", ".txt", ".html", ".htm", ".pdf", ".docx")
MAX_NAME_BYTES = 255
TEMP_PREFIX = ".mscqa-upload-"  # hidden, so the corpus walk never indexes a half-written file
# A part whose writer cannot be told (named before writers were) is stale after this long.
STALE_AFTER_S = 3600.0

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_NOT_PORTABLE = re.compile(r'[<>:"|?*]')
_RESERVED = re.compile(r"^(con|prn|aux|nul|com[0-9¹²³]|lpt[0-9¹²³])$", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Stored:
    doc_id: str
    file: str
    bytes: int
    sha256: str
    status: Literal["created", "replaced", "unchanged"]


def safe_filename(raw: str) -> str:
    """The base name of an uploaded file, or ``InvalidUpload`` if it is unsafe anywhere.

    Directory parts (``../``, ``..\\``, ``/etc/``) are dropped; control characters, hidden
    names, Windows reserved names (``CON``, ``NUL``, ``COM1``...) and ``<>:"|?*`` are refused.
    """
    name = unicodedata.normalize("NFC", raw)
    if _CONTROL.search(name):
        raise InvalidUpload(
            "The file name contains control or text-direction characters; rename the file."
        )
    name = re.split(r"[/\\]", name)[-1].strip()
    if name in {"", ".", ".."}:
        raise InvalidUpload("The upload has no file name; send the document as a named file.")
    if name.startswith("."):
        raise InvalidUpload(
            f"{name!r} is a hidden file name (it starts with a dot) and would not be indexed; "
            "rename the file."
        )
    if _NOT_PORTABLE.search(name) or name.endswith((".", " ")):
        raise InvalidUpload(
            f'{name!r} contains a character not allowed in file names (<>:"|?* or a trailing '
            "dot or space); rename the file."
        )
    if _RESERVED.match(name.split(".")[0].strip()):
        raise InvalidUpload(f"{name!r} is a reserved device name on Windows; rename the file.")
    if len(name.encode("utf-8")) > MAX_NAME_BYTES:
        raise InvalidUpload(f"The file name is longer than {MAX_NAME_BYTES} bytes; shorten it.")
    return name


def check_suffix(name: str) -> None:
    suffix = Path(name).suffix.lower()
    if suffix not in ALLOWED_SUFFIXES:
        raise UnsupportedFileType(
            f"{name!r} is not a supported document type; upload one of: "
            f"{' '.join(ALLOWED_SUFFIXES)}."
        )


class StagedFile:
    """A file being written to a hidden temporary file in the corpus folder."""

    def __init__(self, corpus_dir: Path, name: str, limit: int) -> None:
        if limit < 1:
            raise ValueError(f"limit must be >= 1 byte, got {limit}")
        self.corpus_dir = corpus_dir
        self.name = name
        self.limit = limit
        self.size = 0
        self._hash = hashlib.sha256()
        corpus_dir.mkdir(parents=True, exist_ok=True)
        prefix = f"{TEMP_PREFIX}{_writer_tag(os.getpid())}-"
        fd, tmp = tempfile.mkstemp(dir=corpus_dir, prefix=prefix, suffix=".part")
        os.fchmod(fd, 0o644)
        self.tmp = Path(tmp)
        self._fh = os.fdopen(fd, "wb")

    def write(self, data: bytes) -> None:
        self.size += len(data)
        if self.size > self.limit:
            raise UploadTooLarge(
                f"The file is larger than the {self.limit // (1024 * 1024)} MB upload limit "
                "(MSCQA_MAX_UPLOAD_MB)."
            )
        self._hash.update(data)
        self._fh.write(data)

    def commit(self, replace: bool = False) -> Stored:
        """Give the file its name: a new name is linked (never overwriting), an existing one
        with the same content is left as is, a different one is refused unless ``replace``."""
        self._fh.flush()
        os.fsync(self._fh.fileno())
        self._fh.close()
        sha256 = self._hash.hexdigest()
        target = self.corpus_dir / self.name
        try:
            status = self._place(target, sha256, replace)
        finally:
            self.discard()
        fsync_dir(self.corpus_dir)
        log.info("Stored upload %s (%d bytes, %s)", target, self.size, status)
        return Stored(doc_id_for(Path(self.name)), self.name, self.size, sha256, status)

    def _place(
        self, target: Path, sha256: str, replace: bool
    ) -> Literal["created", "replaced", "unchanged"]:
        try:
            _link_new(self.tmp, target)
            return "created"
        except FileExistsError:
            pass
        if not stat.S_ISREG(os.lstat(target).st_mode):
            raise FileConflict(
                f"{self.name} exists in the corpus folder and is not a regular file; "
                "rename the upload."
            )
        if file_sha256(target) == sha256:
            return "unchanged"
        if not replace:
            raise FileConflict(
                f"{self.name} already exists in the corpus with different content; "
                "upload with ?replace=true to replace it, or rename the file."
            )
        os.replace(self.tmp, target)
        return "replaced"

    def discard(self) -> None:
        if not self._fh.closed:
            self._fh.close()
        with contextlib.suppress(FileNotFoundError):
            self.tmp.unlink()


def _writer_tag(pid: int) -> str:
    """``<pid>.<start time>``: names the process writing a part, and survives pid reuse (a
    restarted container's server often has the same pid as the one that was killed)."""
    return f"{pid}.{_start_time(pid) or 0}"


def _start_time(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[19])  # field 22: start time in clock ticks


def _writer_alive(tag: str) -> bool | None:
    """Whether the process that wrote a part still runs; None when the name does not say."""
    pid, _, started = tag.partition(".")
    if not pid.isdigit() or not started.isdigit():
        return None
    current = _start_time(int(pid))
    if current is None:
        return False if Path("/proc/self/stat").exists() else None
    return int(started) in (0, current)


def sweep_stale_uploads(corpus_dir: Path, now: float | None = None) -> list[Path]:
    """Remove the half-written uploads a stopped server left in ``corpus_dir`` (a ``kill -9``
    mid-upload left its ``.mscqa-upload-*.part`` there for ever): parts whose writing process is
    gone, and parts of unknown writers not written to for ``STALE_AFTER_S``. Uploads in progress
    in this or another live process are kept. Returns the paths removed."""
    now = time.time() if now is None else now
    removed: list[Path] = []
    try:
        entries = list(os.scandir(corpus_dir))
    except (FileNotFoundError, NotADirectoryError):
        return removed
    for entry in entries:
        if not (entry.name.startswith(TEMP_PREFIX) and entry.name.endswith(".part")):
            continue
        if not entry.is_file(follow_symlinks=False):
            continue
        tag = entry.name[len(TEMP_PREFIX) :].split("-", 1)[0]
        alive = _writer_alive(tag)
        try:
            idle = now - entry.stat(follow_symlinks=False).st_mtime
        except FileNotFoundError:
            continue  # finished or discarded meanwhile
        if alive or (alive is None and idle < STALE_AFTER_S):
            continue
        with contextlib.suppress(FileNotFoundError):
            os.unlink(entry.path)
            removed.append(Path(entry.path))
            log.warning("Removed %s: an upload a stopped server left half-written", entry.path)
    return removed


def _link_new(tmp: Path, target: Path) -> None:
    """Create ``target`` with ``tmp``'s content; ``FileExistsError`` if it exists already."""
    try:
        os.link(tmp, target)
    except OSError as exc:
        if isinstance(exc, FileExistsError) or exc.errno not in {
            errno.EPERM,
            errno.ENOTSUP,
            errno.EOPNOTSUPP,
        }:
            raise
        # No hard links on this filesystem: claim the name exclusively, then rename over it.
        os.close(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))
        os.replace(tmp, target)


def document_path(corpus_dir: Path, doc_id: str) -> Path:
    """The corpus file ``doc_id`` names; ``InvalidUpload`` if it is not a plain corpus path."""
    parts = doc_id.split("/")
    if (
        _CONTROL.search(doc_id)
        or "\\" in doc_id
        or any(p in {"", ".", ".."} or p.startswith(".") for p in parts)
    ):
        raise InvalidUpload(
            f"{doc_id!r} is not a document id; use a doc_id from GET /documents "
            "(a corpus-relative path such as notes/a.md)."
        )
    root = corpus_dir.resolve()
    parent = root.joinpath(*parts[:-1]).resolve()  # a symlinked folder may not lead outside
    if not parent.is_relative_to(root):
        raise InvalidUpload(f"{doc_id!r} points outside the corpus folder.")
    return parent / parts[-1]


def delete_document(settings: Settings, doc_id: str) -> Path:
    """Delete exactly the one corpus file ``doc_id``. Returns its path; ``NotFound`` if none."""
    path = document_path(settings.corpus_dir, doc_id)
    try:
        mode = os.lstat(path).st_mode
    except (FileNotFoundError, NotADirectoryError):
        mode = 0
    if not stat.S_ISREG(mode):
        raise NotFound(
            f"There is no file {doc_id} in the corpus folder; GET /documents lists the documents."
        )
    path.unlink()
    fsync_dir(path.parent)
    log.info("Deleted corpus file %s", path)
    return path
