"""Parts of the documents without text (an image or a table) that an answer should name.

A section whose body is empty or only an image or table placeholder is recorded at index time;
the retriever scores how well the words it is known by match the question
(``Retrieval.unreadable``). This decides which of them the answer names, and whether one of them
is what the question asks for (then "not found, and that part could not be read" is the honest
answer rather than a weaker quote).
"""

from __future__ import annotations

from mscqa.answer.confidence import Ranked
from mscqa.answer.ranker import Question
from mscqa.types import Retrieval, Unreadable

# an unreadable part's heading must hold this share of the question's terms to be named
UNREADABLE_SHARE = 0.5


def unreadable_parts(
    chosen: Ranked, retrieval: Retrieval, question: Question
) -> tuple[tuple[Unreadable, ...], bool]:
    """The parts of the documents without text that this answer should name, and whether one
    of them is what the question asks for (then the answer is "not found, and that part could
    not be read" rather than a weaker quote).

    A part is named when a quoted piece announces it (a pointer, "... as follows:", whose
    completion is that image or table), or when the words it is known by (its heading, the
    heading before it, the sentence before it) hold at least half of the question's terms and
    no fewer than the best piece does. It outranks the quotable text when it holds more of
    them than the best piece, or when a quoted piece is its announcement and the question asks
    for the list, the names or the number the announcement promises, or when the question asks
    for a name or a number no quoted piece gives and the part (a section without text) is known
    by as much of the question as the best piece.
    """
    if not retrieval.unreadable:
        return (), False
    best = chosen[0] if chosen else None
    # the best piece is known by its words and its section's heading, as a part is by its own
    best_share = (
        question.share(best[1].found | best[1].members[0].heading) if best is not None else 0.0
    )
    # a quoted pointer ("... as follows:") whose completion is the part announces it
    pointers = {unit.chunk.chunk_id for _, unit, _ in chosen if not unit.complete}
    announced = {u for u, _ in retrieval.unreadable if u.after in pointers}
    # "the table of ...", "the figure": the question itself points at non-text content
    floor = UNREADABLE_SHARE / 2 if question.pictured else UNREADABLE_SHARE
    top = max(share for _, share in retrieval.unreadable)
    titled = {
        u
        for u, share in retrieval.unreadable
        if share >= max(floor, best_share if not question.pictured else 0.0, top - 0.1)
    }
    asks_for_name = (question.kind or ("",))[0] in ("name", "count")
    asks_for_content = question.listing or asks_for_name
    # The question asks for a name or a number that no quoted piece gives (``type_missing``),
    # and a section without text is known by as much of the question as the best piece: the
    # name or number is likely what could not be read ("What is the brand name of the adipose
    # stem cell product approved in Japan?" beside the image table of adipose products).
    missing = best is not None and bool(best[2].get("type_missing")) and asks_for_name
    lacking = {
        u
        for u, share in retrieval.unreadable
        if missing
        and u.section != u.context
        and share >= max(UNREADABLE_SHARE / 2, best_share, top - 0.1)
    }
    titled |= lacking
    named = tuple(u for u, _ in retrieval.unreadable if u in announced | titled)
    # A follow-up ("How do the cells help in that disease?" after a question about a trial)
    # names its subject only in the conversation: its own few words, shared with a table's
    # heading, do not say the table is what it asks about, unless it asks for what a table
    # holds (a list, names, a number). The conversation's subject found the quoted passage.
    follow_up = retrieval.query != retrieval.corrected
    # An image inside a section that has text (recorded with that section as both its heading
    # and its context) illustrates what the text says, which is quotable: its heading holding
    # more of the question than one quoted piece does not make it what the question asks for
    # ("Compare how painful it is to collect BM-MSCs with ...", over the article's .txt whose
    # pictures sit under its sections' headings). A section with no text at all can be.
    own = {u for u in titled if u.section != u.context}
    outranks = (
        (
            any(share > best_share for u, share in retrieval.unreadable if u in own)
            and (asks_for_content or not follow_up)
        )
        or (bool(titled) and question.pictured)
        or (bool(announced) and asks_for_content)
        or bool(lacking)
    )
    return named, outranks
