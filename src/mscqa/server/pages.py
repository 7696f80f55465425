"""The chat page at ``/``: one Jinja2 template (autoescaped) whose JavaScript calls /ask."""

from __future__ import annotations

from pathlib import Path

import jinja2
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

EXAMPLES = (
    "What are mesenchymal stem cells?",
    "How are adipose mesenchymal stem cells collected?",
    "Which country uses umbilical cord MSCs more?",
    "Has the FDA approved an MSC product for graft-versus-host disease?",
)


def make_router(web_dir: Path) -> APIRouter:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(web_dir / "templates"), autoescape=True)
    templates = Jinja2Templates(env=env)
    router = APIRouter()

    @router.get("/", response_class=HTMLResponse, include_in_schema=False)
    def index(request: Request) -> HTMLResponse:
        return templates.TemplateResponse(
            request, "index.html", {"examples": EXAMPLES, "static_url": "/static"}
        )

    @router.get("/documents/view", response_class=HTMLResponse, include_in_schema=False)
    def documents_page(request: Request) -> HTMLResponse:
        """What is indexed; with the admin token, upload, delete and rebuild (documents.js)."""
        return templates.TemplateResponse(request, "documents.html", {"static_url": "/static"})

    return router
