"""Feedback and the curator's question report.

``POST /feedback`` rates one answer (by the ``id`` ``/ask`` gave it). Under ``/admin`` (the
admin bearer token): ``GET /admin/questions`` groups the logged questions by normalised text
(most frequent first) and ``GET /admin/questions/export`` writes them as JSONL in the format
``mscqa eval`` reads, so real questions become a test set once documents answer them.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from datetime import UTC, datetime
from typing import Annotated, Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from mscqa.errors import NotFound
from mscqa.server.admin.routes import ErrorOut, require_admin
from mscqa.server.questions.log import QuestionLog
from mscqa.server.questions.store import Passage, QuestionGroup, Status
from mscqa.server.requests import FeedbackRequest


def get_questions(request: Request) -> QuestionLog:
    questions: QuestionLog = request.app.state.questions
    return questions


Questions = Annotated[QuestionLog, Depends(get_questions)]
router = APIRouter(tags=["feedback"])
admin_router = APIRouter(prefix="/admin", tags=["admin"], dependencies=[Depends(require_admin)])


@router.post(
    "/feedback",
    status_code=204,
    responses={
        400: {"model": ErrorOut, "description": "The body is not UTF-8 JSON."},
        404: {"model": ErrorOut, "description": "No recent answer has that id."},
        413: {"model": ErrorOut, "description": "The body is larger than MSCQA_MAX_BODY_KB."},
        422: {
            "model": ErrorOut,
            "description": "The rating is not up or down, or the id or comment is invalid.",
        },
    },
)
async def feedback(body: FeedbackRequest, questions: Questions) -> Response:
    """Rate an answer. Rating it again replaces the earlier rating."""
    answer_id = body.id.removeprefix("chatcmpl-")
    known = await run_in_threadpool(questions.feedback, answer_id, body.rating, body.comment)
    if not known:
        if not questions.enabled:
            raise NotFound("Feedback is off on this server (MSCQA_QUESTION_LOG=off).")
        raise NotFound(
            f"No recent answer has the id {answer_id!r}; answers can be rated while the server "
            "remembers them (the last 10000 answers, or any logged one)."
        )
    return Response(status_code=204)


# --- the curator's report ----------------------------------------------------------------------


class PassageOut(BaseModel):
    doc_id: str
    title: str
    section: str | None
    chunk_id: str
    start: int
    end: int
    text: str
    url: str = Field(description="The passage in the document reader (/read).")


class CommentOut(BaseModel):
    rating: Literal["up", "down"]
    comment: str
    at: str


class QuestionGroupOut(BaseModel):
    question: str = Field(description="The latest wording of the question.")
    normalised: str = Field(description="What questions are grouped by.")
    count: int = Field(description="How many times it was asked (downvoted: marked wrong).")
    last_seen: str = Field(description="ISO 8601, UTC.")
    answered: bool = Field(description="Whether it was answered the last time.")
    confidence: float
    index_version: str
    context: list[str] = Field(description="The earlier questions a follow-up leaned on.")
    answer: str | None = Field(description="The answer given the last time (null: refused).")
    closest: PassageOut | None = Field(description="The passage cited, or the closest found.")
    upvotes: int
    downvotes: int
    comments: list[CommentOut] = Field(description="Up to 5 recent comments, newest first.")


class QuestionsOut(BaseModel):
    status: Status
    mode: Literal["all", "unanswered", "off"] = Field(description="MSCQA_QUESTION_LOG.")
    days: int = Field(description="Questions are kept this many days (MSCQA_QUESTION_LOG_DAYS).")
    questions: list[QuestionGroupOut]


StatusQuery = Annotated[
    Status,
    Query(description="unanswered: refused questions; downvoted: answers marked wrong; all."),
]
LimitQuery = Annotated[int, Query(ge=1, le=10_000, description="Most groups returned.")]
_AUTH: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut, "description": "The Authorization: Bearer header is missing."},
    403: {"model": ErrorOut, "description": "Wrong token, or MSCQA_ADMIN_TOKEN is unset."},
}


def _iso(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def read_url(doc_id: str, start: int, end: int) -> str:
    return f"/read/{quote(doc_id)}?start={start}&end={end}"


def _passage(p: Passage | None) -> PassageOut | None:
    if p is None:
        return None
    return PassageOut(**dataclasses.asdict(p), url=read_url(p.doc_id, p.start, p.end))


def _group(g: QuestionGroup) -> QuestionGroupOut:
    return QuestionGroupOut(
        question=g.question,
        normalised=g.normalised,
        count=g.count,
        last_seen=_iso(g.last_seen),
        answered=g.answered,
        confidence=g.confidence,
        index_version=g.index_version,
        context=list(g.context),
        answer=g.answer,
        closest=_passage(g.passage),
        upvotes=g.upvotes,
        downvotes=g.downvotes,
        comments=[
            CommentOut(rating=c.rating, comment=c.comment, at=_iso(c.at)) for c in g.comments
        ],
    )


@admin_router.get("/questions", response_model=QuestionsOut, responses=_AUTH)
async def questions_report(
    questions: Questions, status: StatusQuery = "unanswered", limit: LimitQuery = 100
) -> QuestionsOut:
    """Logged questions grouped by normalised text, the most frequent first."""
    groups = await run_in_threadpool(questions.report, status, limit)
    return QuestionsOut(
        status=status,
        mode=questions.mode,
        days=questions.days,
        questions=[_group(g) for g in groups],
    )


@admin_router.get(
    "/questions/export",
    response_class=Response,
    responses={
        **_AUTH,
        200: {
            "content": {"application/x-ndjson": {}},
            "description": "One question a line, in the format `mscqa eval` reads.",
        },
    },
)
async def questions_export(
    questions: Questions, status: StatusQuery = "unanswered", limit: LimitQuery = 10_000
) -> Response:
    """The report as JSONL for ``mscqa eval``: fill in ``gold`` (phrases a right answer
    contains) or set ``expect_abstain`` once the documents that answer them are indexed."""
    groups = await run_in_threadpool(questions.report, status, limit)
    lines = [json.dumps(eval_record(g, status), ensure_ascii=False) for g in groups]
    stamp = datetime.now(UTC).strftime("%Y%m%d")
    return Response(
        "".join(line + "\n" for line in lines),
        media_type="application/x-ndjson",
        headers={"Content-Disposition": f'attachment; filename="questions-{status}-{stamp}.jsonl"'},
    )


def eval_record(g: QuestionGroup, status: Status) -> dict[str, object]:
    """One ``mscqa eval`` question (``evaluation.load_questions``) from a question group."""
    kind = status if status != "all" else ("answered" if g.answered else "unanswered")
    record: dict[str, object] = {
        "id": "user-" + hashlib.sha256(g.normalised.encode()).hexdigest()[:12],
        "kind": f"user-{kind}",
        "question": g.question,
    }
    if g.context:
        record["history"] = [{"role": "user", "content": c} for c in g.context]
    record |= {
        "gold": [],
        "expect_abstain": False,
        "count": g.count,
        "last_seen": _iso(g.last_seen),
    }
    notes = [c.comment for c in g.comments if c.rating == "down"]
    if notes:
        record["comments"] = notes
    if g.answered and g.answer:
        record["answer_given"] = g.answer  # what a downvote judged (mscqa eval ignores it)
    return record
