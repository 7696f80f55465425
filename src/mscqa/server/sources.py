"""An answer's citations as other tools show them: links, a Sources list, sentence spans.

The OpenAI-compatible API and the MCP tools hand answers to clients that know nothing of
mscqa's JSON. They get the same answer text as ``/ask`` plus what those clients can display:

* ``read_url``: a deep link into the document view (``/read/{doc_id}?start=&end=``, owned by
  the chat page) that opens the document with one span highlighted;
* ``sources_markdown``: a short "Sources" list in Markdown (title, section, page, link), and
  the matching parts that could not be read (images, tables), for clients that only render
  text;
* ``quoted_sentences``: where each quoted sentence sits in the answer text, for annotations
  (``content[start_index:end_index]`` is exactly that sentence).

>>> base = public_base_url(settings)                       # doctest: +SKIP
>>> text = response.answer + sources_markdown(response, base)  # doctest: +SKIP

Offsets into the answer text count Unicode code points, as Python slices do.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote

from mscqa.config import Settings
from mscqa.server.schemas import AskResponse, CitationOut, UnreadableOut

_WILDCARD_HOSTS = frozenset({"", "0.0.0.0", "::", "[::]"})
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>])")


def public_base_url(settings: Settings) -> str:
    """``MSCQA_PUBLIC_URL``, else ``http://MSCQA_HOST:MSCQA_PORT`` (never a request's Host header,
    which a client chooses). A server bound to every interface is named by loopback: set
    ``MSCQA_PUBLIC_URL`` when the links must work from other machines."""
    if settings.public_url:
        return settings.public_url
    host = "127.0.0.1" if settings.host in _WILDCARD_HOSTS else settings.host
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"  # an IPv6 literal
    return f"http://{host}:{settings.port}"


def read_url(base: str, doc_id: str, start: int, end: int) -> str:
    """The document view with the span ``[start, end)`` (document offsets) highlighted."""
    return f"{base}/read/{quote(doc_id, safe='/')}?start={start}&end={end}"


def source_title(citation: CitationOut) -> str:
    """ "Title — Section" (or the title alone), as a source's name in a client's list."""
    return f"{citation.title} — {citation.section}" if citation.section else citation.title


@dataclass(frozen=True, slots=True)
class QuotedSentence:
    """One quoted sentence: its place in the answer text and in its document."""

    citation: CitationOut
    start_index: int  # in the answer text
    end_index: int
    doc_start: int  # in the document text
    doc_end: int

    def url(self, base: str) -> str:
        return read_url(base, self.citation.doc_id, self.doc_start, self.doc_end)


def quoted_sentences(response: AskResponse) -> list[QuotedSentence]:
    """Every quoted sentence found verbatim in the answer text, followed by its ``[n]`` marker.

    Ordered so that the first one of each citation comes first, in citation order, then the
    others in the order they appear: a client that numbers its sources in the order it
    receives them (Open WebUI does) then numbers them as the ``[n]`` markers do.
    """
    text = response.answer
    claimed: set[int] = set()
    firsts: list[QuotedSentence] = []
    others: list[QuotedSentence] = []
    for c in response.citations:
        marker = f" [{c.n}]"
        found: list[QuotedSentence] = []
        for span in c.sentences:
            sentence = c.text[span.start - c.start : span.end - c.start]
            at = text.find(sentence + marker)
            while at in claimed:
                at = text.find(sentence + marker, at + 1)
            if at < 0 or not sentence:
                continue
            claimed.add(at)
            found.append(QuotedSentence(c, at, at + len(sentence), span.start, span.end))
        found.sort(key=lambda q: q.start_index)
        firsts += found[:1]
        others += found[1:]
    return firsts + sorted(others, key=lambda q: q.start_index)


def _md(text: str) -> str:
    return _MARKDOWN_SPECIAL.sub(r"\\\1", " ".join(text.split()))


def _where(c: CitationOut) -> str:
    page = f", p. {c.page}" if c.page else ""
    return _md(source_title(c)) + page


def sources_markdown(response: AskResponse, base: str | None) -> str:
    """The text appended to the answer: a "Sources" list, one line per ``[n]``, each linked to
    its passage (named by its passage id when there is no ``base`` to link to); for an
    abstention, the closest passages, marked as not being an answer."""

    def source(c: CitationOut) -> str:
        if base is None:
            return f"{_where(c)} (`{c.chunk_id}`)"
        return f"[{_where(c)}]({read_url(base, c.doc_id, c.passage_start, c.passage_end)})"

    if response.citations:
        lines = [f"- [{c.n}] {source(c)}" for c in response.citations]
        listed = "\n\n**Sources**\n" + "\n".join(lines)
    elif response.related and not response.answered:
        lines = [f"- {source(c)}" for c in response.related]
        listed = "\n\n**Closest passages (not an answer)**\n" + "\n".join(lines)
    else:
        listed = ""
    return listed + _unreadable(response, base)


def _unreadable(response: AskResponse, base: str | None) -> str:
    """The parts that match the question but hold no text (an image or a table): a client
    that shows only text would otherwise never learn the answer may be there."""
    if not response.unreadable:
        return ""

    def part(u: UnreadableOut) -> str:
        name = _md(f"{u.title} — {u.section}")
        if base is None:
            return f"{name} (`{u.doc_id}`, characters {u.start}-{u.end})"
        return f"[{name}]({read_url(base, u.doc_id, u.start, u.end)})"

    lines = [f"- {part(u)}" for u in response.unreadable]
    return (
        "\n\n**Could not be read** (an image or a table in the document; open it to see)\n"
        + "\n".join(lines)
    )
