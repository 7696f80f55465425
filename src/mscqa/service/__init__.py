"""The read path: ``QAService`` answers questions from the live snapshot (qa.py), which
``LiveSnapshot`` loads and hot-swaps when ``CURRENT`` moves (live.py)."""

from mscqa.service.live import LiveSnapshot, Serving
from mscqa.service.qa import QAService

__all__ = ["LiveSnapshot", "QAService", "Serving"]
