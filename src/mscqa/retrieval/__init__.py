"""Question to scored passages and sentences: hybrid search, fusion, spelling, vocabulary and
follow-up questions."""

from mscqa.retrieval.conversation import contextualize, is_follow_up
from mscqa.retrieval.fusion import FUSION_MODES, fuse
from mscqa.retrieval.retriever import Retriever
from mscqa.retrieval.spelling import Speller

__all__ = ["FUSION_MODES", "Retriever", "Speller", "contextualize", "fuse", "is_follow_up"]
