"""Corpus files to documents to passages: the loaders, the chunker and sandboxed extraction."""

from mscqa.ingest.chunker import Chunker, split_sentences
from mscqa.ingest.loaders import LoadResult, Skipped, doc_id_for, load_corpus, load_file

__all__ = [
    "Chunker",
    "LoadResult",
    "Skipped",
    "doc_id_for",
    "load_corpus",
    "load_file",
    "split_sentences",
]
