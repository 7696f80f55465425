"""PDF, HTML and DOCX to text, parsed in a subprocess under time and memory limits.

``sandbox`` starts ``worker`` (``python -m mscqa.ingest.extract.worker``), which imports one
parser module per format (``html``, ``pdf`` with ``pdf_layout``, ``docx``) over ``text``'s
standard-library helpers only after its limits are set.
"""

from mscqa.ingest.extract.sandbox import SUPPORTED_SUFFIXES, Extracted, ExtractionError, extract

__all__ = ["SUPPORTED_SUFFIXES", "Extracted", "ExtractionError", "extract"]
