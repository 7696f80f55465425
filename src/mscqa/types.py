"""Frozen records that flow through the pipeline. No behaviour beyond small derived values."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Section:
    """A heading and the character span of its body in ``Document.text``."""

    title: str
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Page:
    """A page number and its character span in ``Document.text`` (PDFs only)."""

    number: int
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Document:
    """One corpus file, loaded. ``text`` is what every offset in the system refers to."""

    doc_id: str
    path: str
    title: str
    text: str
    sha256: str
    format: str
    sections: tuple[Section, ...] = ()
    pages: tuple[Page, ...] = ()
    metadata: tuple[tuple[str, str], ...] = ()
    # Spans of ``text`` the loader found to be site chrome from the markup (HTML link lists,
    # navigation/footer classes): a hint for ``ingest.boilerplate``, used by the build only
    # and not stored in snapshots.
    chrome: tuple[tuple[int, int], ...] = ()


@dataclass(frozen=True, slots=True)
class Chunk:
    """A passage of whole sentences inside one section.

    ``text == document.text[start:end]``; ``sentences`` are absolute ``(start, end)`` spans of the
    sentences in this chunk, in order.
    """

    chunk_id: str
    doc_id: str
    n: int
    title: str
    section: str | None
    start: int
    end: int
    text: str
    sha256: str
    sentences: tuple[tuple[int, int], ...]
    page: int | None = None


@dataclass(frozen=True, slots=True)
class Unreadable:
    """A part of a document with no text to quote: a section whose body is empty or only an
    image or table placeholder (its content was a picture). Recorded at index time so an
    answer can say that the part that matches the question could not be read."""

    doc_id: str
    section: str  # its heading (or the line that captions the placeholder)
    start: int  # its span in ``Document.text``
    end: int
    context: str | None = None  # the heading of the nearest part before it that has text
    after: str | None = None  # chunk_id of the passage just before it (which may announce it)


@dataclass(frozen=True, slots=True)
class Definition:
    """An abbreviation a document defines: "long form (SHORT)"."""

    doc_id: str
    short: str
    long: str


@dataclass(frozen=True, slots=True)
class Hit:
    """A retrieved chunk with its fused score and the per-retriever evidence behind it."""

    row: int
    chunk: Chunk
    score: float
    dense: float
    lexical: float


@dataclass(frozen=True, slots=True)
class Citation:
    n: int
    chunk: Chunk
    score: float
    sentences: tuple[tuple[int, int], ...] = ()


@dataclass(frozen=True, slots=True)
class Answer:
    text: str
    answered: bool
    confidence: float
    citations: tuple[Citation, ...] = ()
    related: tuple[Citation, ...] = ()
    took_ms: float = 0.0
    meta: dict[str, float] = field(default_factory=dict, compare=False)
    # parts of the documents that match the question but hold no text (images, tables)
    unreadable: tuple[Unreadable, ...] = ()
    id: str = ""  # one per answer given (POST /feedback names it); "" for uncached internals
    index_version: str = ""  # the snapshot that answered


@dataclass(frozen=True, slots=True)
class Turn:
    role: str
    content: str


@dataclass(frozen=True, slots=True)
class ScoredSentence:
    chunk_rank: int  # rank of the owning hit (0 = best)
    chunk_score: float  # the owning hit's fused score divided by the best hit's
    chunk: Chunk
    start: int
    end: int
    dense: float  # cosine(question, sentence)
    context: float  # cosine(query with conversation context, sentence)
    lexical: float  # idf-weighted share of the question's words found in the sentence
    found: frozenset[int] = frozenset()  # which of ``Retrieval.terms`` the sentence holds
    section: float = 0.0  # idf-weighted share of the question's words in the section heading
    heading: frozenset[int] = frozenset()  # which of ``Retrieval.terms`` the heading holds
    novel: float = 0.0  # share of the sentence's words that the question does not use


@dataclass(frozen=True, slots=True)
class Retrieval:
    """What the retriever found for one question; immutable (change it with ``replace``)."""

    query: str
    hits: tuple[Hit, ...]
    sentences: tuple[ScoredSentence, ...]
    top_dense: float  # best chunk cosine over the whole snapshot
    coverage: float  # idf-weighted share of the question's words found in the top hits
    known: float  # idf-weighted share of the question's words that occur anywhere in the corpus
    corrected: str  # the question after spelling correction
    unknown_names: tuple[str, ...] = ()  # capitalised question words the corpus never uses
    # the question's subject when it names something the corpus never does (retrieval.subject)
    unknown_subject: str = ""
    terms: tuple[float, ...] = ()  # the question's terms' weights (``ScoredSentence.found``)
    parts: tuple[frozenset[int], ...] = ()  # terms of each sub-question of a compound question
    sides: tuple[frozenset[int], ...] = ()  # terms of each side of "A vs B", "A or B"
    # unreadable parts of the hits' documents, each with the share of the question's terms its
    # heading (and the heading before it) holds
    unreadable: tuple[tuple[Unreadable, float], ...] = ()
    # which of ``terms`` name the question's subject ("Prochymal" of "What are the side effects
    # of Prochymal?"; ``retrieval.subject``), empty when its form names none
    subject_terms: frozenset[int] = frozenset()
    # the abbreviations the documents define that the question uses, in either form, as
    # ``(short, long)`` ("BM-MSCs", "bone marrow mesenchymal stem cells")
    defined: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        # sequences given as lists are stored as tuples, so nobody can change them in place
        for name in (
            *("hits", "sentences", "unknown_names", "terms", "parts", "sides", "unreadable"),
            "defined",
        ):
            value = getattr(self, name)
            if not isinstance(value, tuple):
                object.__setattr__(self, name, tuple(value))
