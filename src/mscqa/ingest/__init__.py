"""Corpus files to documents to passages: the loaders, the chunker and sandboxed extraction."""

from mscqa.ingest.chunker import Chunker
from mscqa.ingest.loaders import LoadResult, Skipped, doc_id_for, load_corpus, load_file
from mscqa.ingest.sentences import paragraphs, split_sentences

__all__ = [
    "Chunker",
    "LoadResult",
    "Skipped",
    "doc_id_for",
    "load_corpus",
    "load_file",
    "paragraphs",
    "split_sentences",
]
