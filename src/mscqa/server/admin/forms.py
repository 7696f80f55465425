"""Streaming ``multipart/form-data`` uploads: the form is parsed as it arrives.

``UploadReceiver`` feeds the request body to python-multipart and writes the file part (field
``file``) straight into a :class:`mscqa.server.admin.uploads.StagedFile`, so a too-large upload
is refused as soon as the limit is passed and never held in memory::

    receiver = UploadReceiver(settings, content_type, content_length)
    for chunk in body:
        receiver.feed(chunk)
    stored = receiver.finish()      # Stored(doc_id="notes.md", status="created", ...)
"""

from __future__ import annotations

from python_multipart import MultipartParser
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import parse_options_header

from mscqa.config import Settings
from mscqa.errors import InvalidUpload, UploadTooLarge
from mscqa.server.admin.uploads import StagedFile, Stored, check_suffix, safe_filename

FIELD = "file"
# Room for the multipart boundaries and part headers on top of the file itself.
FORM_OVERHEAD = 64 * 1024
# An upload form needs one part with a few short headers; anything far beyond is abuse.
MAX_PARTS = 16  # (python-multipart itself refuses oversized part headers)
MAX_BOUNDARY = 70  # RFC 2046 section 5.1.1


class UploadReceiver:
    """Parses one ``multipart/form-data`` upload as it streams in (field ``file``)."""

    def __init__(
        self,
        settings: Settings,
        content_type: str | None,
        content_length: str | None = None,
        replace: bool = False,
    ) -> None:
        self.corpus_dir = settings.corpus_dir
        self.limit = settings.max_upload_mb * 1024 * 1024
        self.replace = replace
        self.received = 0
        self.staged: StagedFile | None = None
        ctype, options = parse_options_header(content_type or "")
        boundary = options.get(b"boundary")
        if ctype != b"multipart/form-data" or not boundary:
            raise InvalidUpload(
                "Send the document as multipart/form-data with the file in the field 'file'."
            )
        if content_length and content_length.isdigit():
            self._check_total(int(content_length))  # refuse early; the stream is still counted
        self._part_name = b""
        self._parts = 0
        self._part_headers: dict[bytes, bytes] = {}
        self._header = [b"", b""]
        self._in_file = False
        self._done = False
        if len(boundary) > MAX_BOUNDARY:
            raise InvalidUpload(
                f"The multipart boundary is {len(boundary)} characters long; RFC 2046 allows at "
                f"most {MAX_BOUNDARY}."
            )
        try:
            self._parser = self._make_parser(boundary)
        except FormParserError as exc:  # e.g. a 300-character boundary (at most 70 are valid)
            raise InvalidUpload(f"The multipart boundary is not valid ({exc}).") from None

    def _make_parser(self, boundary: bytes) -> MultipartParser:
        return MultipartParser(
            boundary,
            {
                "on_part_begin": self._on_part_begin,
                "on_header_field": self._on_header_field,
                "on_header_value": self._on_header_value,
                "on_header_end": self._on_header_end,
                "on_headers_finished": self._on_headers_finished,
                "on_part_data": self._on_part_data,
                "on_part_end": self._on_part_end,
                "on_end": self._on_end,
            },
        )

    def _check_total(self, size: int) -> None:
        if size > self.limit + FORM_OVERHEAD:
            raise UploadTooLarge(
                f"The upload is larger than the {self.limit // (1024 * 1024)} MB limit "
                "(MSCQA_MAX_UPLOAD_MB)."
            )

    def feed(self, data: bytes) -> None:
        """Parse the next piece of the request body; raises as soon as something is wrong."""
        if not data:
            return
        self.received += len(data)
        self._check_total(self.received)
        try:
            self._parser.write(data)
        except FormParserError as exc:
            raise InvalidUpload(f"The multipart form is malformed ({exc}).") from None

    def finish(self) -> Stored:
        """Store the received file under its safe name (see ``StagedFile.commit``)."""
        try:
            self._parser.finalize()
        except FormParserError as exc:
            raise InvalidUpload(f"The multipart form is malformed ({exc}).") from None
        if self.staged is None:
            raise InvalidUpload("The form has no file; send the document in the field 'file'.")
        if not self._done:
            raise InvalidUpload("The upload ended early; send the whole file again.")
        staged, self.staged = self.staged, None
        return staged.commit(self.replace)

    def close(self) -> None:
        """Remove the temporary file of an upload that was not stored."""
        if self.staged is not None:
            self.staged.discard()
            self.staged = None

    # -- parser callbacks ----------------------------------------------------------------------

    def _on_part_begin(self) -> None:
        self._part_headers = {}
        self._parts += 1
        if self._parts > MAX_PARTS:
            raise InvalidUpload(
                f"The form has more than {MAX_PARTS} parts; send one file in the field 'file'."
            )

    def _on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header[0] += data[start:end]

    def _on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._header[1] += data[start:end]

    def _on_header_end(self) -> None:
        field, value = self._header
        self._part_headers[field.strip().lower()] = value.strip()
        self._header = [b"", b""]

    def _on_headers_finished(self) -> None:
        disposition = self._part_headers.get(b"content-disposition", b"").decode("latin-1")
        _, options = parse_options_header(disposition)
        self._part_name = options.get(b"name", b"")
        self._in_file = self._part_name == FIELD.encode()
        if not self._in_file:
            return
        if self.staged is not None:
            raise InvalidUpload("Send one file per upload (the form has several 'file' fields).")
        if b"filename" not in options:
            raise InvalidUpload("The field 'file' must hold a file, not text.")
        try:
            raw = options[b"filename"].decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidUpload("The file name is not valid UTF-8; rename the file.") from None
        name = safe_filename(raw)
        check_suffix(name)
        self.staged = StagedFile(self.corpus_dir, name, self.limit)

    def _on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self._in_file and self.staged is not None:
            self.staged.write(data[start:end])

    def _on_part_end(self) -> None:
        self._in_file = False

    def _on_end(self) -> None:
        self._done = True
