"""Retrieval to answer: verbatim sentences with citations, or an abstention (pure)."""

from mscqa.answer.answerer import NOT_FOUND, AnswerPolicy, answer, confidence, features

__all__ = ["NOT_FOUND", "AnswerPolicy", "answer", "confidence", "features"]
