r"""The answer cache (a bounded LRU of answers) and the normal form of a question it is keyed by.

>>> normalise_question("  What\u200b IS\tthis? ")
'what is this?'
"""

from __future__ import annotations

import re
import threading
import unicodedata
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

from mscqa.types import Answer, Turn


class AnswerCache:
    """A bounded LRU of answers keyed by snapshot version, question, history and k."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._data: OrderedDict[tuple[Any, ...], Answer] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[Any, ...]) -> Answer | None:
        with self._lock:
            value = self._data.get(key)
            if value is not None:
                self._data.move_to_end(key)
            return value

    def put(self, key: tuple[Any, ...], value: Answer) -> None:
        if self.size <= 0:
            return
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self.size:
                self._data.popitem(last=False)


# Characters that show as nothing: zero-width space, non-joiner and joiner, word joiner, byte
# order mark, soft hyphen. In a question they only split words ("adi\u200bpose" found nothing)
# and let the same question miss the answer cache, so they are removed before anything else.
_INVISIBLE = re.compile("[\u00ad\u200b-\u200d\u2060\ufeff]")


def visible(text: str) -> str:
    """``text`` without zero-width characters."""
    return _INVISIBLE.sub("", text)


def normalise_question(question: str) -> str:
    """The question as the cache and the question log key it: visible characters, NFKC,
    single spaces, case-folded."""
    return " ".join(unicodedata.normalize("NFKC", visible(question)).split()).casefold()


def visible_history(history: Sequence[Turn]) -> Sequence[Turn]:
    """``history`` with zero-width characters removed from every turn (itself if none)."""
    if not any(_INVISIBLE.search(t.content) for t in history):
        return history
    return [Turn(t.role, visible(t.content)) for t in history]
