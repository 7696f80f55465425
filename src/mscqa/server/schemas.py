"""HTTP response bodies: answers with their citations (windowed to a size a client can show),
health, readiness, the document list and errors (pydantic lives at the edges only)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from pydantic import BaseModel, Field, model_validator

from mscqa.errors import ReplyTooLarge
from mscqa.types import Answer, Citation, Unreadable


class Span(BaseModel):
    start: int
    end: int


# The most of a passage a citation's ``text`` shows: the largest passage a build makes
# (MSCQA_CHUNK_CHARS <= 5000, run-on sentences cut to it). Snapshots built before run-on
# sentences were cut can hold far longer ones (a 10 MB file without punctuation was one 10 MB
# passage, and every unrelated question got it back in ``related``).
MAX_CITATION_CHARS = 5000


def citation_window(c: Citation, max_chars: int = MAX_CITATION_CHARS) -> tuple[int, int]:
    """Document offsets of the part of ``c``'s passage a reply shows: the whole passage when it
    has at most ``max_chars`` characters, else that many around the quoted sentences (from the
    passage's start when none is quoted), ends moved to word boundaries. It always holds every
    quoted sentence, so ``text[s - start : e - start]`` is each one, verbatim."""
    ch = c.chunk
    if ch.end - ch.start <= max_chars:
        return ch.start, ch.end
    q_start = min((s for s, _ in c.sentences), default=ch.start)
    q_end = max((e for _, e in c.sentences), default=ch.start)
    room = max_chars - (q_end - q_start)
    if room <= 0:
        return q_start, q_end  # the quote itself is the limit: all of it, and nothing more
    start = max(ch.start, q_start - room // 2)
    end = min(ch.end, start + (q_end - q_start) + room)
    start = max(ch.start, min(start, end - max_chars))
    text, base = ch.text, ch.start
    # Not in the middle of a word: up to 40 characters of context are given up for that.
    space = text.find(" ", start - base, min(q_start, start + 40) - base)
    if start > ch.start and space >= 0:
        start = base + space + 1
    space = text.rfind(" ", max(q_end, end - 40) - base, end - base)
    if end < ch.end and space >= 0:
        end = base + space
    return start, end


class CitationOut(BaseModel):
    n: int = Field(description="The number used by the [n] markers in the answer.")
    doc_id: str
    title: str
    section: str | None
    chunk_id: str
    text: str = Field(
        description="The cited passage exactly as in the document; of a passage longer than "
        f"{MAX_CITATION_CHARS} characters, the part around the quoted sentences (truncated)."
    )
    start: int = Field(description="Offset of text in the document text.")
    end: int
    score: float
    page: int | None = None
    sentences: list[Span] = Field(
        default_factory=list, description="Document offsets of the sentences the answer quotes."
    )
    passage_start: int = Field(
        -1, description="Offset of the whole passage in the document text (= start if absent)."
    )
    passage_end: int = -1
    truncated: bool = Field(False, description="text is only part of the passage.")

    @model_validator(mode="after")
    def _whole_passage_by_default(self) -> CitationOut:
        # a citation made without them (a client's own, an older server's) shows a whole passage
        if self.passage_start < 0:
            self.passage_start = self.start
        if self.passage_end < 0:
            self.passage_end = self.end
        return self

    @classmethod
    def of(cls, c: Citation, max_chars: int = MAX_CITATION_CHARS) -> CitationOut:
        ch = c.chunk
        start, end = citation_window(c, max_chars)
        return cls(
            n=c.n,
            doc_id=ch.doc_id,
            title=ch.title,
            section=ch.section,
            chunk_id=ch.chunk_id,
            text=ch.text[start - ch.start : end - ch.start],
            start=start,
            end=end,
            score=round(c.score, 4),
            page=ch.page,
            sentences=[Span(start=s, end=e) for s, e in c.sentences],
            passage_start=ch.start,
            passage_end=ch.end,
            truncated=(start, end) != (ch.start, ch.end),
        )


class UnreadableOut(BaseModel):
    doc_id: str
    title: str = Field(description="The document's title.")
    section: str = Field(description="The heading of the part (or the caption of the image).")
    start: int = Field(description="Offset of the part in the document text.")
    end: int

    @classmethod
    def of(cls, u: Unreadable, titles: dict[str, str]) -> UnreadableOut:
        return cls(
            doc_id=u.doc_id,
            title=titles.get(u.doc_id, u.doc_id),
            section=u.section,
            start=u.start,
            end=u.end,
        )


class AskResponse(BaseModel):
    id: str = Field(description="This answer's id: rate it with POST /feedback.")
    index_version: str = Field(description="The index snapshot the answer was given from.")
    answer: str
    answered: bool
    confidence: float = Field(description="Probability (0-1) that the documents hold the answer.")
    citations: list[CitationOut]
    related: list[CitationOut] = Field(
        default_factory=list,
        description="Other passages retrieved; for an unanswered question, the closest ones "
        "found (not an answer).",
    )
    took_ms: float
    unreadable: list[UnreadableOut] = Field(
        default_factory=list,
        description="Parts of the documents that match the question but hold no text (their "
        "content was an image or a table, e.g. a table of approved products): the answer "
        "could not read them. Empty for most answers.",
    )

    @classmethod
    def of(cls, a: Answer) -> AskResponse:
        titles = {c.chunk.doc_id: c.chunk.title for c in (*a.citations, *a.related)}
        return cls(
            id=a.id,
            index_version=a.index_version,
            answer=a.text,
            answered=a.answered,
            confidence=a.confidence,
            citations=[CitationOut.of(c) for c in a.citations],
            related=[CitationOut.of(c) for c in a.related],
            took_ms=a.took_ms,
            unreadable=[UnreadableOut.of(u, titles) for u in a.unreadable],
        )

    @classmethod
    def bounded_json(cls, a: Answer, max_bytes: int) -> bytes:
        """The ``/ask`` reply to ``a`` as JSON of at most ``max_bytes`` (see ``bounded``)."""
        return cls.bounded(a, max_bytes, _json)[1]

    @classmethod
    def bounded(
        cls, a: Answer, max_bytes: int, render: Callable[[AskResponse], bytes]
    ) -> tuple[AskResponse, bytes]:
        """The reply to ``a`` and ``render(reply)``, the bytes sent for it (``/ask``'s JSON, a
        chat completion, an MCP tool result), at most ``max_bytes`` of them: when it is longer,
        ``related`` loses passages from its end, then citations show only the quoted
        sentences. ``ReplyTooLarge`` if even that does not fit (an answer quoting sentences
        longer than any build makes now, from an old snapshot)."""
        reply = cls.of(a)
        data = render(reply)
        while len(data) > max_bytes and reply.related:
            reply.related.pop()
            data = render(reply)
        if len(data) > max_bytes:
            reply.citations = [CitationOut.of(c, max_chars=0) for c in a.citations]
            data = render(reply)
        if len(data) > max_bytes:
            raise ReplyTooLarge(
                f"The answer is larger than the {max_bytes // 1024} KiB reply limit "
                "(MSCQA_MAX_REPLY_KB); its passages come from an index built before long "
                "sentences were split: rebuild it with `mscqa index`."
            )
        return reply, data


def _json(reply: AskResponse) -> bytes:
    return reply.model_dump_json().encode()


class IndexInfo(BaseModel):
    version: str
    documents: int
    chunks: int


class LoadInfo(BaseModel):
    inflight: int = Field(description="Questions being answered now.")
    max_inflight: int = Field(description="MSCQA_MAX_INFLIGHT (0 = no limit).")
    shedding: bool = Field(
        description="A question was refused with 503 (busy) in the last few seconds."
    )
    shed_total: int = Field(description="Questions refused as busy since the server started.")


class HealthResponse(BaseModel):
    status: Literal["ok", "shedding"] = Field(
        description="ok, or shedding while questions are being refused as busy (still 200: "
        "the server answers; GET /readyz is 503 then)."
    )
    index: IndexInfo
    load: LoadInfo


class ReadyResponse(BaseModel):
    ready: bool


class DocumentOut(BaseModel):
    doc_id: str
    title: str
    chunks: int
    format: str
    path: str
    sha256: str
    date: str | None = None
    characters: int
    modified: float | None = None


class DocumentsResponse(BaseModel):
    documents: list[DocumentOut]


class ErrorResponse(BaseModel):
    detail: str
