"""A piece for each side of a comparison: "A vs B: which ...?", "How do A and B differ?".

The question's sides (``Retrieval.sides``, read by ``retrieval.sides``) are two sets of its terms.
The pieces chosen for the whole question may speak of one side only; the answer to a comparison
needs what the documents say of each. So a side that no chosen piece holds more than half of (its
section heading counted when the piece names neither side: under "Adipose MSCs", "China has fewer
applications." is about adipose MSCs) gets the best-ranked piece that does, if that piece scores
within the answer's floor and is of the first piece's document (in a collection, another abstract's
sentence about one side compares nothing). A side the first piece already holds needs nothing: "A
marked difference was observed between A (71%) and B (14%)" answers both. A side's piece is one
about that side alone where there is one: an overview naming every side ("the most used are fat
and umbilical cord MSCs") says nothing of either that the question asks. A question asking for a
figure ("How many inflations were analysed in the comparison of A and B?") names its sides as
context, not as what is asked: it gets no side pieces.
"""

from __future__ import annotations

from mscqa.answer.ranker import Question, Unit

Ranked = list[tuple[float, Unit, dict[str, float]]]
HELD = 0.5  # a side is held by a piece holding more than this share of its term weight


def side_pieces(ranked: Ranked, chosen: Ranked, question: Question, floor: float) -> Ranked:
    """The pieces to add to ``chosen`` (best first) so each side of ``question`` has one:
    for each side no chosen piece holds, the best-ranked unit of ``ranked`` scoring at least
    ``floor`` that holds it, is of the first chosen piece's document and overlaps no chosen
    piece."""
    if len(question.sides) < 2 or question.kind is not None:
        return []
    named = frozenset().union(*question.sides)
    doc = chosen[0][1].chunk.doc_id if chosen else None
    taken = list(chosen)
    added: Ranked = []
    for side in question.sides:
        if any(question.share(held(u, named), side) > HELD for _, u, _ in taken):
            continue
        others = [o for o in question.sides if o is not side]
        candidates = [
            r
            for r in ranked
            if r[0] >= floor
            and r[1].chunk.doc_id == doc  # a comparison's sides are compared in one document
            and question.share(held(r[1], named), side) > HELD
            and not any(_overlaps(r[1], u) for _, u, _ in taken)
        ]
        # a piece about this side alone before one that names every side: "the most used are
        # fat and umbilical cord MSCs" says nothing of either that the question asks
        alone = [
            r
            for r in candidates
            if not any(question.share(held(r[1], named), o) > HELD for o in others)
        ]
        if alone or candidates:
            pick = (alone or candidates)[0]
            taken.append(pick)
            added.append(pick)
    return added


def held(unit: Unit, named: frozenset[int]) -> frozenset[int]:
    """The terms ``unit`` holds, its section heading's too when it names none of ``named``."""
    if unit.found & named:
        return unit.found
    return unit.found | unit.members[0].heading


def _overlaps(a: Unit, b: Unit) -> bool:
    return a.chunk.chunk_id == b.chunk.chunk_id and a.start < b.end and b.start < a.end
