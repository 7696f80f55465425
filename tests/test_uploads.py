"""Storing uploads in the corpus folder: safe names, streaming size limit, atomic no-clobber
writes, and deleting exactly one corpus file (mscqa.server.admin.uploads, without HTTP)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from mscqa.config import Settings
from mscqa.errors import (
    FileConflict,
    InvalidUpload,
    NotFound,
    UnsupportedFileType,
    UploadTooLarge,
)
from mscqa.ingest.loaders import supported_suffixes
from mscqa.server.admin.forms import UploadReceiver
from mscqa.server.admin.uploads import (
    ALLOWED_SUFFIXES,
    TEMP_PREFIX,
    StagedFile,
    delete_document,
    document_path,
    safe_filename,
)

BOUNDARY = "----mscqa-test-boundary"
CTYPE = f"multipart/form-data; boundary={BOUNDARY}"
END = f"--{BOUNDARY}--\r\n".encode()


def part(filename: bytes | None, content: bytes, field: bytes = b"file") -> bytes:
    disposition = b'form-data; name="' + field + b'"'
    if filename is not None:
        disposition += b'; filename="' + filename + b'"'
    return (
        f"--{BOUNDARY}\r\n".encode()
        + b"Content-Disposition: "
        + disposition
        + b"\r\nContent-Type: application/octet-stream\r\n\r\n"
        + content
        + b"\r\n"
    )


def form(filename: bytes | None, content: bytes, field: bytes = b"file") -> bytes:
    """A multipart body built by hand, so names reach the server exactly as given."""
    return part(filename, content, field) + END


def tree(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture
def settings(tmp_path: Path, tiny_corpus: Path) -> Settings:
    return Settings(
        corpus_dir=tiny_corpus, index_dir=tmp_path / "index", max_upload_mb=1, _env_file=None
    )


def receive(settings: Settings, body: bytes, piece: int = 7, **kw: object):
    receiver = UploadReceiver(settings, CTYPE, kw.pop("length", None), **kw)  # type: ignore[arg-type]
    try:
        for i in range(0, len(body), piece):
            receiver.feed(body[i : i + piece])
        return receiver.finish()
    finally:
        receiver.close()


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("notes.md", "notes.md"),
        ("../x.md", "x.md"),
        ("..\\x.md", "x.md"),
        ("/etc/x.md", "x.md"),
        ("C:\\Users\\me\\x.md", "x.md"),
        ("a/b/../../c.md", "c.md"),
        ("  spaced name (2020).pdf ", "spaced name (2020).pdf"),
        ("Ünïcode–title.md", "Ünïcode–title.md"),
    ],
)
def test_safe_filename_keeps_only_the_base_name(raw: str, expected: str) -> None:
    assert safe_filename(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "a\x00b.md",
        "a\nb.md",
        "a\u202eb.md",
        "CON.md",
        "nul.txt",
        "com1.md",
        "LPT9.tar.md",
        ".hidden.md",
        "../.env",
        "",
        "..",
        "dir/",
        "x.md.",
        'a"b.md',
        "a?.md",
        "a:b.md",
        "x" * 300 + ".md",
    ],
)
def test_unsafe_names_are_refused(raw: str) -> None:
    with pytest.raises(InvalidUpload):
        safe_filename(raw)


def test_allowed_suffixes_are_all_indexable() -> None:
    assert set(ALLOWED_SUFFIXES) <= supported_suffixes()


def test_receiver_stores_the_file_atomically(settings: Settings) -> None:
    data = b"# New\n\nMesenchymal notes.\n" * 100
    stored = receive(settings, form(b"new.md", data))
    assert (stored.doc_id, stored.file, stored.status) == ("new.md", "new.md", "created")
    assert stored.bytes == len(data)
    assert stored.sha256 == hashlib.sha256(data).hexdigest()
    assert (settings.corpus_dir / "new.md").read_bytes() == data
    assert not list(settings.corpus_dir.glob(TEMP_PREFIX + "*"))


def test_receiver_keeps_the_base_name_of_a_traversal_name(settings: Settings) -> None:
    outside = settings.corpus_dir.parent
    before = tree(outside)
    stored = receive(settings, form(b"../../evil.md", b"x"))
    assert stored.file == "evil.md"
    after = tree(outside)
    assert set(after) - set(before) == {"corpus/evil.md"}


def test_same_content_is_unchanged_different_is_a_conflict(settings: Settings) -> None:
    original = (settings.corpus_dir / "adipose.md").read_bytes()
    assert receive(settings, form(b"adipose.md", original)).status == "unchanged"
    with pytest.raises(FileConflict, match=r"replace=true"):
        receive(settings, form(b"adipose.md", b"other"))
    assert (settings.corpus_dir / "adipose.md").read_bytes() == original
    stored = receive(settings, form(b"adipose.md", b"other"), replace=True)
    assert stored.status == "replaced"
    assert (settings.corpus_dir / "adipose.md").read_bytes() == b"other"
    assert not list(settings.corpus_dir.glob(TEMP_PREFIX + "*"))


def test_a_symlink_in_the_corpus_is_never_written_through(
    settings: Settings, tmp_path: Path
) -> None:
    target = tmp_path / "outside.md"
    target.write_text("keep me")
    (settings.corpus_dir / "link.md").symlink_to(target)
    with pytest.raises(FileConflict, match="not a regular file"):
        receive(settings, form(b"link.md", b"new"), replace=True)
    assert target.read_text() == "keep me"


def test_size_limit_is_enforced_while_streaming(settings: Settings) -> None:
    limit = settings.max_upload_mb * 1024 * 1024
    receiver = UploadReceiver(settings, CTYPE, "100")  # a false, small Content-Length
    head = part(b"big.md", b"")[:-2]
    receiver.feed(head)
    fed = 0
    with pytest.raises(UploadTooLarge, match="MSCQA_MAX_UPLOAD_MB"):
        while True:
            receiver.feed(b"x" * 65536)
            fed += 65536
    receiver.close()
    assert limit - 65536 <= fed <= limit  # stopped at the first piece past the limit
    assert not list(settings.corpus_dir.glob(TEMP_PREFIX + "*"))
    assert not (settings.corpus_dir / "big.md").exists()


def test_a_declared_oversize_content_length_is_refused_before_reading(
    settings: Settings,
) -> None:
    with pytest.raises(UploadTooLarge):
        UploadReceiver(settings, CTYPE, str(50 * 1024 * 1024))


def test_exactly_the_limit_is_accepted(settings: Settings) -> None:
    data = b"y" * (settings.max_upload_mb * 1024 * 1024)
    assert receive(settings, form(b"edge.txt", data), piece=1 << 16).bytes == len(data)


@pytest.mark.parametrize(
    ("body", "error", "fragment"),
    [
        (form(b"x.exe", b"MZ"), UnsupportedFileType, ".docx"),
        (form(b"x", b"data"), UnsupportedFileType, "supported"),
        (form(None, b"text"), InvalidUpload, "must hold a file"),
        (form(b"x.md", b"a", field=b"other"), InvalidUpload, "field 'file'"),
        (form(b"a\x00b.md", b"a"), InvalidUpload, "control"),
        (form(b"\xff\xfe.md", b"a"), InvalidUpload, "UTF-8"),
        (form(b"x.md", b"a")[:-20], InvalidUpload, "ended early"),
        (part(b"x.md", b"a") + part(b"y.md", b"b") + END, InvalidUpload, "one file"),
    ],
)
def test_bad_uploads_store_nothing(
    settings: Settings, body: bytes, error: type[Exception], fragment: str
) -> None:
    before = tree(settings.corpus_dir.parent)
    with pytest.raises(error, match=fragment):
        receive(settings, body)
    assert tree(settings.corpus_dir.parent) == before


def test_non_multipart_requests_are_refused(settings: Settings) -> None:
    with pytest.raises(InvalidUpload, match="multipart/form-data"):
        UploadReceiver(settings, "application/json")


def test_staged_file_checks_its_limit() -> None:
    with pytest.raises(ValueError, match="limit"):
        StagedFile(Path("."), "x.md", 0)


def test_delete_removes_exactly_one_file(settings: Settings) -> None:
    before = tree(settings.corpus_dir.parent)
    delete_document(settings, "nested/cord.md")
    after = tree(settings.corpus_dir.parent)
    assert set(before) - set(after) == {"corpus/nested/cord.md"}
    with pytest.raises(NotFound):
        delete_document(settings, "nested/cord.md")
    with pytest.raises(NotFound):
        delete_document(settings, "nested")  # a folder is not a document


@pytest.mark.parametrize(
    "doc_id",
    ["../x.md", "a/../../x.md", "/etc/passwd", "..\\x.md", "", "a//b.md", ".env", "a\x00.md"],
)
def test_delete_refuses_ids_outside_the_corpus(settings: Settings, doc_id: str) -> None:
    before = tree(settings.corpus_dir.parent)
    with pytest.raises(InvalidUpload):
        delete_document(settings, doc_id)
    assert tree(settings.corpus_dir.parent) == before


def test_a_symlinked_folder_cannot_lead_outside(settings: Settings, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "x.md").write_text("keep")
    (settings.corpus_dir / "escape").symlink_to(outside)
    with pytest.raises(InvalidUpload, match="outside"):
        document_path(settings.corpus_dir, "escape/x.md")
    assert (outside / "x.md").read_text() == "keep"


def _multipart(parts: list[tuple[bytes, bytes]], boundary: bytes = b"b0undary") -> bytes:
    body = b""
    for headers, content in parts:
        body += b"--" + boundary + b"\r\n" + headers + b"\r\n\r\n" + content + b"\r\n"
    return body + b"--" + boundary + b"--\r\n"


@pytest.mark.parametrize(
    ("parts", "fragment"),
    [
        (
            [(b'Content-Disposition: form-data; name="f%d"' % i, b"x") for i in range(5000)],
            "more than 16 parts",
        ),
        (
            [
                (
                    b'Content-Disposition: form-data; name="file"; filename="'
                    + b"a" * 20000
                    + b'.md"',
                    b"x",
                )
            ],
            "header size",
        ),
    ],
)
def test_multipart_abuse_is_refused_fast(tiny_settings, parts, fragment) -> None:
    from fastapi.testclient import TestClient

    from mscqa.config import Settings
    from mscqa.embedding.hashing import HashingEmbedder
    from mscqa.server.app import create_app
    from mscqa.service import QAService

    settings = Settings(**{**tiny_settings.model_dump(), "admin_token": "s3cret"}, _env_file=None)
    before = sorted(p.name for p in settings.corpus_dir.iterdir())
    with TestClient(create_app(settings, QAService(settings, HashingEmbedder()))) as client:
        r = client.post(
            "/admin/documents",
            content=_multipart(parts),
            headers={
                "Authorization": "Bearer s3cret",
                "Content-Type": "multipart/form-data; boundary=b0undary",
            },
        )
    assert r.status_code == 422, r.text
    assert fragment in r.json()["detail"]
    assert sorted(p.name for p in settings.corpus_dir.iterdir()) == before


# --- half-written uploads left by a stopped server (issue #16, item 8) ---------------------------


def test_stale_parts_are_swept_and_live_ones_kept(settings: Settings) -> None:
    import os
    import subprocess
    import sys

    from mscqa.server.admin import uploads

    corpus = settings.corpus_dir
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True
    )
    dead_pid = int(gone.stdout)
    dead = corpus / f"{uploads.TEMP_PREFIX}{dead_pid}.{uploads._start_time(os.getpid())}-a.part"
    mine = StagedFile(corpus, "x.md", 100)  # in progress in this process
    unknown_fresh = corpus / f"{uploads.TEMP_PREFIX}k3y_x.part"  # named before writers were
    unknown_old = corpus / f"{uploads.TEMP_PREFIX}0ld_x.part"
    for path in (dead, unknown_fresh, unknown_old):
        path.write_bytes(b"half")
    os.utime(unknown_old, (1, 1))
    before = tree(corpus)
    removed = uploads.sweep_stale_uploads(corpus)
    assert sorted(removed) == sorted([dead, unknown_old])
    assert mine.tmp.exists() and unknown_fresh.exists()
    assert {k: v for k, v in tree(corpus).items() if ".part" not in k} == {
        k: v for k, v in before.items() if ".part" not in k
    }  # documents untouched
    mine.discard()
