"""The HTML pages: the chat at ``/``, the documents page and the document reader ``/read``.

Jinja2 templates (autoescaped) whose JavaScript modules call the JSON API.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import jinja2
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from mscqa.errors import IndexNotReady, NoIndexError, NotFound
from mscqa.server.docview import document_view, parse_span
from mscqa.service import QAService

EXAMPLES = (
    "What are mesenchymal stem cells?",
    "How are adipose mesenchymal stem cells collected?",
    "Which country uses umbilical cord MSCs more?",
    "Has the FDA approved an MSC product for graft-versus-host disease?",
)
REPORT_LIMIT = 50  # question groups the documents page lists per report
# Spread into a new dict per response: TemplateResponse stores the request in the context it
# is given, so a shared dict would carry one request into the next.
STATIC = {"static_url": "/static"}


def make_router(web_dir: Path, upload_suffixes: Sequence[str] = ()) -> APIRouter:
    """The pages over the templates in ``web_dir``; ``upload_suffixes``: the file types the
    upload route accepts (the documents page names them and refuses others before sending)."""
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(web_dir / "templates"), autoescape=True)
    templates = Jinja2Templates(env=env)
    router = APIRouter()

    @router.get("/", response_class=HTMLResponse, include_in_schema=False)
    def index(request: Request) -> HTMLResponse:
        # The page's constants come from the server (data attributes), not copies in the JS.
        state = request.app.state
        context = {
            "examples": EXAMPLES,
            "not_found": state.service.not_found,
            "min_confidence": state.settings.min_confidence,
            "max_question_chars": state.settings.max_question_chars,
            "max_history_turns": state.settings.max_history_turns,
            "feedback": state.questions.enabled,
            **STATIC,
        }
        return templates.TemplateResponse(request, "index.html", context)

    @router.get("/documents/view", response_class=HTMLResponse, include_in_schema=False)
    def documents_page(request: Request) -> HTMLResponse:
        """What is indexed; with the admin token, upload, delete and rebuild (documents.js)."""
        # What the upload accepts comes from the server too: the loaders' file types and
        # MSCQA_MAX_UPLOAD_MB, so the page refuses a file before sending it, as the server would.
        state = request.app.state
        context = {
            "upload_suffixes": list(upload_suffixes),
            "max_upload_mb": state.settings.max_upload_mb,
            "report_limit": REPORT_LIMIT,
            **STATIC,
        }
        return templates.TemplateResponse(request, "documents.html", context)

    @router.get("/read/{doc_id:path}", response_class=HTMLResponse, include_in_schema=False)
    def read(
        request: Request, doc_id: str, start: str | None = None, end: str | None = None
    ) -> HTMLResponse:
        """The whole document, with ``[start, end)`` (document offsets, as in an answer's
        ``citations[].sentences``) highlighted and scrolled into view. Unusable offsets show
        the document without a highlight; an unknown document is a 404 page."""
        service: QAService = request.app.state.service
        try:
            doc, version = service.document(doc_id)
        except NotFound:
            return _message(
                request,
                404,
                "Document not found",
                f"No document {doc_id!r} is "
                "in the index. It may have been removed or renamed since the link "
                "was made.",
            )
        except (IndexNotReady, NoIndexError) as exc:
            return _message(request, 503, "The document index is not available", str(exc))
        span = parse_span(start, end, len(doc.text))
        view = document_view(doc, *(span or (None, None)))
        context = {"view": view, "version": version, "asked": start is not None, **STATIC}
        return templates.TemplateResponse(request, "read.html", context)

    def _message(request: Request, status: int, heading: str, text: str) -> HTMLResponse:
        context = {"status": status, "heading": heading, "text": text, **STATIC}
        return templates.TemplateResponse(request, "message.html", context, status_code=status)

    return router
