"""Retrieval to answer: verbatim sentences with citations, or an abstention (pure)."""

from mscqa.answer.answerer import (
    CONFIDENCE_WEIGHTS,
    NOT_FOUND,
    AnswerPolicy,
    answer,
    confidence,
    features,
)
from mscqa.answer.ranker import RANKER_WEIGHTS, Question, rank

__all__ = [
    "CONFIDENCE_WEIGHTS",
    "NOT_FOUND",
    "RANKER_WEIGHTS",
    "AnswerPolicy",
    "Question",
    "answer",
    "confidence",
    "features",
    "rank",
]
