"""HTTP request and response bodies (pydantic lives at the edges only)."""

from __future__ import annotations

import functools
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model, field_validator, model_validator

from mscqa.config import Settings
from mscqa.errors import ReplyTooLarge
from mscqa.types import Answer, Citation, Unreadable

# NUL, other C0 controls (tab/newline allowed) and the Unicode bidi overrides/isolates.
_FORBIDDEN = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u202a-\u202e\u2066-\u2069]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")
# The defaults of MSCQA_MAX_QUESTION_CHARS and MSCQA_MAX_HISTORY_TURNS; a server's own limits
# come from its Settings through ``ask_request_model``.
MAX_QUESTION_CHARS: int = Settings.model_fields["max_question_chars"].default
MAX_HISTORY_TURNS: int = Settings.model_fields["max_history_turns"].default
MAX_TURN_CHARS = 8000
MAX_COMMENT_CHARS = 2000
# The same rule as _FORBIDDEN, stated in the OpenAPI schema (ECMA-262 syntax) for API clients.
_ALLOWED_PATTERN = r"^[^\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f\u202a-\u202e\u2066-\u2069]*$"
_QUESTION_PATTERN = (
    r"^[^\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f\u202a-\u202e\u2066-\u2069]*"
    r"\S[^\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f\u202a-\u202e\u2066-\u2069]*$"
)


def _clean(value: str, what: str) -> str:
    if _SURROGATE.search(value):
        raise ValueError(f"{what} contains an invalid character (a lone UTF-16 surrogate)")
    if _FORBIDDEN.search(value):
        raise ValueError(f"{what} contains control or text-direction characters; remove them")
    return value


class HistoryTurn(BaseModel):
    role: Literal["user", "assistant"] = Field(description="Who said it.")
    content: str = Field(
        max_length=MAX_TURN_CHARS,
        description="What was said.",
        json_schema_extra={"pattern": _ALLOWED_PATTERN},
    )

    @field_validator("content")
    @classmethod
    def _content(cls, value: str) -> str:
        return _clean(value, "history content")


def _question_field(max_chars: int) -> Any:
    return Field(
        min_length=1,
        max_length=max_chars,
        description="The question, in plain text (no control or text-direction characters).",
        json_schema_extra={"pattern": _QUESTION_PATTERN},
    )


def _history_field(max_turns: int) -> Any:
    return Field(
        default_factory=list,
        max_length=max_turns,
        description="Earlier turns of the conversation, oldest first, for follow-up questions.",
    )


class AskRequest(BaseModel):
    """The body of ``POST /ask`` at the default limits; a server validates with
    ``ask_request_model`` of its own Settings, so its schema states the limits it enforces."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"question": "How are adipose mesenchymal stem cells collected?"}]
        }
    )

    question: str = _question_field(MAX_QUESTION_CHARS)
    top_k: int | None = Field(
        None, ge=1, le=20, description="Passages to consider (1-20); default from settings."
    )
    history: list[HistoryTurn] = _history_field(MAX_HISTORY_TURNS)

    @field_validator("question")
    @classmethod
    def _question(cls, value: str) -> str:
        value = _clean(value, "question")
        if not value.strip():
            raise ValueError("question is empty; type a question about the documents")
        return value


@functools.cache
def ask_request_model(max_question_chars: int, max_history_turns: int) -> type[AskRequest]:
    """``AskRequest`` with ``MSCQA_MAX_QUESTION_CHARS`` and ``MSCQA_MAX_HISTORY_TURNS`` applied.

    >>> ask_request_model(5000, 2).model_fields["question"].metadata[-1].max_length
    5000
    """
    if (max_question_chars, max_history_turns) == (MAX_QUESTION_CHARS, MAX_HISTORY_TURNS):
        return AskRequest
    model: type[AskRequest] = create_model(
        "AskRequest",
        __base__=AskRequest,
        __doc__=AskRequest.__doc__,
        question=(str, _question_field(max_question_chars)),
        history=(list[HistoryTurn], _history_field(max_history_turns)),
    )
    return model


class FeedbackRequest(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"id": "16c05105827cd26c71b7e19a", "rating": "down"}]}
    )

    id: str = Field(
        description="The answer's id, as /ask gave it (or chatcmpl-<id>).",
        pattern=r"^(chatcmpl-)?[A-Za-z0-9_-]{1,64}$",
    )
    rating: Literal["up", "down"] = Field(description="up: helpful; down: wrong or not useful.")
    comment: str | None = Field(
        None,
        max_length=MAX_COMMENT_CHARS,
        description="What was wrong or missing (optional).",
        json_schema_extra={"pattern": _ALLOWED_PATTERN},
    )

    @field_validator("comment")
    @classmethod
    def _comment(cls, value: str | None) -> str | None:
        return None if value is None else _clean(value, "comment").strip() or None


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
        """The reply to ``a`` as JSON of at most ``max_bytes``: when it is longer, ``related``
        loses passages from its end, then citations show only the quoted sentences.
        ``ReplyTooLarge`` if even that does not fit (an answer quoting sentences longer than
        any build makes now, from an old snapshot)."""
        reply = cls.of(a)
        data = reply.model_dump_json().encode()
        while len(data) > max_bytes and reply.related:
            reply.related.pop()
            data = reply.model_dump_json().encode()
        if len(data) > max_bytes:
            reply.citations = [CitationOut.of(c, max_chars=0) for c in a.citations]
            data = reply.model_dump_json().encode()
        if len(data) > max_bytes:
            raise ReplyTooLarge(
                f"The answer is larger than the {max_bytes // 1024} KiB reply limit "
                "(MSCQA_MAX_REPLY_KB); its passages come from an index built before long "
                "sentences were split: rebuild it with `mscqa index`."
            )
        return data


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
