"""The curator API under ``/admin``: upload and delete corpus files, rebuild the index.

Every route needs ``Authorization: Bearer <MSCQA_ADMIN_TOKEN>``; without that setting the whole
API answers 403. The token is read from that header only (never the query string or cookies,
which leak into logs and are sent cross-site), and there is no CORS on these routes.
"""

from __future__ import annotations

import contextlib
import hmac
import threading
import time
from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from mscqa.config import Settings
from mscqa.errors import JobConflict, NotFound
from mscqa.server.admin.forms import UploadReceiver
from mscqa.server.admin.job import Job
from mscqa.server.admin.jobs import JobManager
from mscqa.server.admin.uploads import ALLOWED_SUFFIXES, delete_document, sweep_stale_uploads
from mscqa.server.metrics import record_build

DISABLED = "admin API disabled: set MSCQA_ADMIN_TOKEN"
REINDEX_HINT = "POST /admin/reindex"
_LAZY = threading.Lock()


def require_admin(request: Request, response: Response) -> None:
    settings: Settings = request.app.state.settings
    if settings.admin_token is None:
        raise HTTPException(403, DISABLED)
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not given.strip():
        raise HTTPException(
            401,
            "Admin token missing: send the header Authorization: Bearer <MSCQA_ADMIN_TOKEN>.",
            headers={"WWW-Authenticate": "Bearer"},
        )
    # Headers arrive latin-1 decoded: re-encode to compare the exact bytes that were sent.
    expected = settings.admin_token.get_secret_value().encode("utf-8")
    if not hmac.compare_digest(given.strip().encode("latin-1", "replace"), expected):
        raise HTTPException(403, "Wrong admin token.")
    response.headers["Cache-Control"] = "no-store"


def _manager(app: FastAPI) -> JobManager:
    """A job manager whose finished builds are recorded in the app's metrics."""
    return JobManager(
        app.state.settings,
        app.state.service,
        on_built=lambda seconds: record_build(app, seconds),
    )


def get_jobs(request: Request) -> JobManager:
    """The app's job manager (made by the lifespan, or here for an app run without one)."""
    state = request.app.state
    with _LAZY:
        if getattr(state, "jobs", None) is None:
            state.jobs = _manager(request.app)
    jobs: JobManager = state.jobs
    return jobs


@contextlib.asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    await run_in_threadpool(sweep_stale_uploads, app.state.settings.corpus_dir)
    app.state.jobs = _manager(app)
    try:
        yield
    finally:
        await run_in_threadpool(app.state.jobs.shutdown)


Jobs = Annotated[JobManager, Depends(get_jobs)]
router = APIRouter(
    prefix="/admin", tags=["admin"], dependencies=[Depends(require_admin)], lifespan=lifespan
)


class ErrorOut(BaseModel):
    detail: str


class StoredOut(BaseModel):
    doc_id: str = Field(description="The new document's id: its corpus-relative path.")
    file: str = Field(description="The name it was stored under (base name, made safe).")
    bytes: int
    sha256: str
    replaced: bool
    status: Literal["created", "replaced", "unchanged"]
    reindex: str = Field(REINDEX_HINT, description="Uploading does not reindex: call this.")
    followup_job_id: str | None = Field(
        None,
        description="Set when a rebuild that had listed the corpus already was running: a "
        "follow-up rebuild adds the file when it ends; follow it at GET /admin/jobs/{id}.",
    )


class DeletedOut(BaseModel):
    doc_id: str
    deleted: bool = True
    reindex: str = Field(
        REINDEX_HINT,
        description="What rebuilds the index without the file: POST /admin/reindex, or the "
        "follow-up rebuild already queued.",
    )
    followup_job_id: str | None = Field(
        None,
        description="Set when a rebuild was running during the delete (it may still include the "
        "file): a follow-up rebuild starts when it ends; follow it at GET /admin/jobs/{id}.",
    )


class JobStarted(BaseModel):
    job_id: str


class SkippedOut(BaseModel):
    file: str
    reason: str


class JobOut(BaseModel):
    job_id: str
    state: Literal["queued", "running", "done", "failed", "cancelled"]
    progress: float = Field(ge=0, le=1)
    stage: str | None
    version: str | None = Field(description="The snapshot the build published, once done.")
    error: str | None
    skipped: list[SkippedOut] = Field(description="Corpus files the build could not load.")
    created: float
    started: float | None
    finished: float | None
    cancel_requested: bool = Field(description="DELETE /admin/jobs/{job_id} was called.")
    follows: str | None = Field(description="A follow-up rebuild: the job it waited for.")
    reason: str | None = Field(description="Why a follow-up rebuild was queued.")


class JobsOut(BaseModel):
    jobs: list[JobOut]


def _errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    out: dict[int | str, dict[str, Any]] = {
        401: {"model": ErrorOut, "description": "The Authorization: Bearer header is missing."},
        403: {"model": ErrorOut, "description": "Wrong token, or MSCQA_ADMIN_TOKEN is unset."},
    }
    return out | {code: {"model": ErrorOut} for code in codes}


_MULTIPART = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {
                            "type": "string",
                            "format": "binary",
                            "description": f"One of {' '.join(ALLOWED_SUFFIXES)}.",
                        }
                    },
                }
            }
        },
    }
}


@router.post(
    "/documents",
    status_code=201,
    response_model=StoredOut,
    responses=_errors(409, 413, 415, 422) | {200: {"description": "Same content: unchanged."}},
    openapi_extra=_MULTIPART,
)
async def upload(request: Request, response: Response, replace: bool = False) -> StoredOut:
    """Store one document (multipart field ``file``) in the corpus folder. Does not reindex.

    An existing file with other content is refused (409) unless ``?replace=true``. If a rebuild
    that started before the file was in place is running, a follow-up rebuild is queued to add
    it when that one ends, and ``followup_job_id`` names it.
    """
    since = time.time()
    receiver = UploadReceiver(
        request.app.state.settings,
        request.headers.get("content-type"),
        request.headers.get("content-length"),
        replace=replace,
    )
    try:
        async for chunk in request.stream():
            receiver.feed(chunk)
        stored = await run_in_threadpool(receiver.finish)
    finally:
        receiver.close()
    followup = None
    if stored.status == "unchanged":
        response.status_code = 200
    else:
        reason = f"{stored.doc_id} was uploaded while a rebuild was running"
        followup = get_jobs(request).follow_up(since, reason, added=time.time())
    return StoredOut(
        doc_id=stored.doc_id,
        file=stored.file,
        bytes=stored.bytes,
        sha256=stored.sha256,
        replaced=stored.status == "replaced",
        status=stored.status,
        **_followup(followup, f"may not include {stored.doc_id}", "adds it"),
    )


@router.delete("/documents/{doc_id:path}", response_model=DeletedOut, responses=_errors(404, 422))
def delete(doc_id: str, request: Request, jobs: Jobs) -> DeletedOut:
    """Delete exactly one corpus file (``doc_id`` as listed by GET /documents). Does not
    reindex: the document stays answerable until the next rebuild. If a rebuild is running
    (it may have read the file already), a follow-up rebuild is queued to start when it ends,
    and ``followup_job_id`` names it."""
    since = time.time()
    delete_document(request.app.state.settings, doc_id)
    followup = jobs.follow_up(since, f"{doc_id} was deleted while a rebuild was running")
    return DeletedOut(
        doc_id=doc_id, **_followup(followup, f"may still include {doc_id}", "removes it")
    )


def _followup(job: Job | None, lacks: str, does: str) -> dict[str, Any]:
    """The reply's ``reindex`` and ``followup_job_id`` when a follow-up rebuild was queued."""
    if job is None:
        return {}
    return {
        "reindex": f"A rebuild was running and {lacks}; the follow-up rebuild {job.id} {does} "
        f"(GET /admin/jobs/{job.id}).",
        "followup_job_id": job.id,
    }


@router.post(
    "/reindex",
    status_code=202,
    response_model=JobStarted,
    responses=_errors() | {409: {"description": "A rebuild is running; job_id names it."}},
)
def reindex(jobs: Jobs) -> Any:
    """Start rebuilding the index in the background; follow it at GET /admin/jobs/{job_id}."""
    try:
        job = jobs.start()
    except JobConflict as exc:
        return JSONResponse(
            {"detail": str(exc), "job_id": exc.job_id},
            status_code=409,
            headers={"Cache-Control": "no-store"},
        )
    return JobStarted(job_id=job.id)


@router.get("/jobs", response_model=JobsOut)
def list_jobs(jobs: Jobs) -> JobsOut:
    """The last 20 rebuild jobs, newest first."""
    return JobsOut.model_validate({"jobs": [j.as_dict() for j in jobs.list()]})


@router.get("/jobs/{job_id}", response_model=JobOut, responses=_errors(404))
def get_job(job_id: str, jobs: Jobs) -> JobOut:
    """One rebuild job's state and progress (0..1)."""
    job = jobs.get(job_id)
    if job is None:
        raise NotFound(f"No rebuild job {job_id}; GET /admin/jobs lists the recent ones.")
    return JobOut.model_validate(job.as_dict())


@router.delete("/jobs/{job_id}", response_model=JobOut, responses=_errors(404, 409))
def cancel_job(job_id: str, jobs: Jobs) -> Any:
    """Cancel a queued or running rebuild: its build process is stopped, nothing it built is
    published and the current snapshot keeps serving. Waits up to 10 s for the job to end and
    returns it: ``cancelled``, or ``done`` if it had already published (too late to cancel).
    409 if the job had already ended."""
    try:
        job = jobs.cancel(job_id)
    except JobConflict as exc:
        return JSONResponse(
            {"detail": str(exc), "job_id": exc.job_id},
            status_code=409,
            headers={"Cache-Control": "no-store"},
        )
    return JobOut.model_validate(job.as_dict())
