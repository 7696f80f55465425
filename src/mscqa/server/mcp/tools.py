"""mscqa as an MCP server: three read-only tools over the same service as ``/ask``.

* ``ask(question, history?)``: the ``/ask`` answer as structured content (its output schema is
  ``AskResponse``'s), plus a text block with the answer and its Sources list;
* ``search(query, top_k?)``: the passages retrieval ranks first, with their offsets and links;
* ``list_documents()``: what is indexed.

``build_server`` makes the SDK's server with these tools, for either transport (``http.py``
serves it at ``/mcp``; ``mscqa mcp`` on stdio). A failure comes back as a tool error whose
text says what to do ("run `mscqa index`"), never as a traceback.

>>> server = build_server(service, settings, base_url="http://127.0.0.1:8000")  # doctest: +SKIP
>>> anyio.run(server.run_stdio_async)                                           # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import Annotated, Any

from mcp.server import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult, TextContent, ToolAnnotations
from pydantic import BaseModel, Field, ValidationError

from mscqa import __version__
from mscqa.config import Settings
from mscqa.errors import InvalidQuestion, MscqaError, ReplyTooLarge
from mscqa.server.metrics import Metrics
from mscqa.server.requests import HistoryTurn, ask_request_model
from mscqa.server.schemas import MAX_CITATION_CHARS, AskResponse, DocumentsResponse
from mscqa.server.sources import read_url, sources_markdown
from mscqa.service import QAService
from mscqa.types import Turn

INSTRUCTIONS = (
    "Answers questions about the documents indexed in this mscqa server with sentences quoted "
    "verbatim from them, each with its citation, and says plainly when the documents do not "
    "hold the answer (answered: false). Use `ask` for a question (pass earlier turns as "
    "`history` for a follow-up), `search` to read the passages themselves, `list_documents` to "
    "see what is indexed."
)
READ_ONLY = ToolAnnotations(read_only_hint=True, open_world_hint=False)


class Passage(BaseModel):
    doc_id: str
    title: str
    section: str | None
    chunk_id: str
    text: str = Field(
        description="The passage exactly as in the document; of one longer than "
        f"{MAX_CITATION_CHARS} characters (an index built before run-on sentences were cut), "
        "its beginning (truncated)."
    )
    start: int = Field(description="Offset of text in the document text.")
    end: int
    score: float = Field(description="Fused retrieval score; higher is closer.")
    page: int | None = None
    url: str | None = Field(None, description="The document view with the passage highlighted.")
    truncated: bool = Field(False, description="text is only the beginning of the passage.")


class SearchResult(BaseModel):
    passages: list[Passage] = Field(description="Best first.")


def _text(description: str) -> Any:
    """A text argument's schema. It is checked in the tool, as /ask checks it (the server's
    MSCQA_MAX_QUESTION_CHARS), with messages that say what to change."""
    return Field(
        description=f"{description} At most MSCQA_MAX_QUESTION_CHARS characters (2000 unless "
        "the server says otherwise).",
        json_schema_extra={"minLength": 1},
    )


# What the JSON-RPC reply adds around a tool's result ({"jsonrpc":"2.0","id":..,"result":..}),
# with room to spare: a tool's reply is held to MSCQA_MAX_REPLY_KB as /ask's is.
_ENVELOPE = 256


def _wire(result: CallToolResult) -> bytes:
    """The result as the SDK sends it (by alias, without unset fields)."""
    return result.model_dump_json(by_alias=True, exclude_none=True).encode()


def _search_result(passages: list[Passage]) -> CallToolResult:
    """What the SDK makes of a returned ``SearchResult``: its JSON as text, and as structure."""
    found = SearchResult(passages=passages)
    return CallToolResult(
        content=[TextContent(type="text", text=found.model_dump_json(indent=2))],
        structured_content=found.model_dump(mode="json", by_alias=True),
    )


def _problem(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc'])}: {str(e['msg']).removeprefix('Value error, ')}"
        for e in exc.errors()
    )


@contextlib.contextmanager
def _keep_logging_as_is() -> Iterator[None]:
    """MCPServer() calls logging.basicConfig; only the CLI configures logging here, so the root
    logger gets a placeholder handler for the moment (basicConfig leaves a configured root
    alone)."""
    root = logging.getLogger()
    placeholder = logging.NullHandler() if not root.handlers else None
    if placeholder is not None:
        root.addHandler(placeholder)
    try:
        yield
    finally:
        if placeholder is not None:
            root.removeHandler(placeholder)


def build_server(
    service: QAService,
    settings: Settings,
    *,
    base_url: str | None,
    metrics: Metrics | None = None,
) -> MCPServer:
    """The MCP server over ``service``; links point at ``base_url`` (None: no links)."""
    with _keep_logging_as_is():
        server: MCPServer = MCPServer(
            "mscqa",
            title="mscqa",
            version=__version__,
            instructions=INSTRUCTIONS,
            subscriptions=False,  # nothing to subscribe to; no long-lived listen streams
        )

    # /ask's own request model, with this server's limits: the tools check what /ask checks
    ask_model = ask_request_model(settings.max_question_chars, settings.max_history_turns)

    limit = settings.max_reply_kb * 1024 - _ENVELOPE

    def link(doc_id: str, start: int, end: int) -> str | None:
        return read_url(base_url, doc_id, start, end) if base_url else None

    @server.tool(title="Ask the documents", annotations=READ_ONLY)
    def ask(
        question: Annotated[str, _text("The question in plain text.")],
        history: Annotated[
            list[HistoryTurn] | None,
            Field(description="Earlier turns, oldest first, for a follow-up question."),
        ] = None,
    ) -> Annotated[CallToolResult, AskResponse]:
        """Answer a question about the indexed documents with sentences quoted verbatim from
        them, each followed by its [n] citation; when the documents do not hold the answer,
        answered is false and related lists the closest passages (not an answer)."""
        if not question.strip():
            raise ToolError("question is empty: pass the question to answer, in plain text.")
        try:
            request = ask_model.model_validate(
                {"question": question, "history": [t.model_dump() for t in history or ()]}
            )
        except ValidationError as exc:
            raise ToolError(_problem(exc)) from None
        turns = [Turn(t.role, t.content) for t in request.history]
        try:
            answer = service.ask(request.question, None, turns)
        except MscqaError as exc:  # too long for MSCQA_MAX_QUESTION_CHARS, no index yet, ...
            raise ToolError(str(exc)) from None

        def result(response: AskResponse) -> CallToolResult:
            text = response.answer + sources_markdown(response, base_url)
            return CallToolResult(
                content=[TextContent(type="text", text=text)],
                structured_content=response.model_dump(mode="json"),
            )

        try:  # as /ask: related passages go first, then citation context, to fit the limit
            response, _ = AskResponse.bounded(answer, limit, lambda r: _wire(result(r)))
        except ReplyTooLarge as exc:
            raise ToolError(str(exc)) from None
        if metrics is not None:
            metrics.record_answer(response.answered)
        return result(response)

    @server.tool(title="Search the passages", annotations=READ_ONLY)
    def search(
        query: Annotated[str, _text("What to look for, in plain text.")],
        top_k: Annotated[int, Field(ge=1, le=20, description="How many passages (1-20).")] = 5,
    ) -> Annotated[CallToolResult, SearchResult]:
        """The passages of the indexed documents that best match the query, best first, each
        with its document, section, offsets and score. Nothing is composed: read them yourself.
        A reply over the server's size limit has fewer passages (the last ones go)."""
        if not query.strip():
            raise ToolError("query is empty: pass the words or question to search for.")
        try:
            ask_model.model_validate({"question": query})
        except ValidationError as exc:
            raise ToolError(_problem(exc).replace("question", "query")) from None
        try:
            hits = service.search(query, top_k)
        except InvalidQuestion as exc:
            raise ToolError(str(exc).replace("question", "query")) from None
        except MscqaError as exc:
            raise ToolError(str(exc)) from None
        passages = []
        for h in hits:
            text = h.chunk.text[:MAX_CITATION_CHARS]
            end = h.chunk.start + len(text)
            passages.append(
                Passage(
                    doc_id=h.chunk.doc_id,
                    title=h.chunk.title,
                    section=h.chunk.section,
                    chunk_id=h.chunk.chunk_id,
                    text=text,
                    start=h.chunk.start,
                    end=end,
                    score=round(h.score, 4),
                    page=h.chunk.page,
                    url=link(h.chunk.doc_id, h.chunk.start, end),
                    truncated=end != h.chunk.end,
                )
            )
        found = _search_result(passages)
        while len(_wire(found)) > limit and len(passages) > 1:
            passages.pop()
            found = _search_result(passages)
        return found

    @server.tool(title="List the documents", annotations=READ_ONLY)
    def list_documents() -> DocumentsResponse:
        """The documents in the serving index: id, title, passages, format, size, dates."""
        try:
            return DocumentsResponse.model_validate({"documents": service.documents()})
        except MscqaError as exc:
            raise ToolError(str(exc)) from None

    return server
