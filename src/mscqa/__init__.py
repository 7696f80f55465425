"""mscqa: offline question answering over documents about mesenchymal stem cells.

Every answer sentence is a verbatim quote from the indexed documents with a citation to the
exact passage it came from. Heavy dependencies (torch, faiss, sentence-transformers) are
imported lazily by the modules that need them, so importing this package is cheap.
"""

__version__ = "0.1.0"
