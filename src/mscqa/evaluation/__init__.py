"""``mscqa eval``: run question files against a service and measure retrieval and answers.

Question file: JSON Lines, one object per line with ``question``, optional ``id``, ``kind``,
``history`` (list of ``{"role", "content"}``), and what a right answer holds: ``gold`` (phrases,
any of which counts; all of them with ``"gold_all": true``) and/or ``gold_doc`` (doc ids, any of
which counts), or ``"expect_abstain": true`` for a question the documents do not answer.
``"expect_unreadable": true`` marks a question whose answer sits in a part of a document that
is not text (an image or a table placeholder): the answer should say so.

A file named ``<set>.test.jsonl`` (or a later frozen ``<set>.test2.jsonl``, ``.test3``, ...:
``is_test_file``) is the **test** split of its set (written before the changes it judges, never
tuned on); every other file is **dev**. ``evaluate_files`` reports each split
on its own, so a change that helps dev but not test shows as such.
"""

from mscqa.evaluation.metrics import (
    CITED,
    RELIABILITY_BINS,
    answer_right,
    brier,
    by_kind,
    evaluate,
    evaluate_files,
    grounded,
    reliability,
    split_report,
    summarize,
)
from mscqa.evaluation.questions import (
    SPLITS,
    Item,
    is_test_file,
    load_questions,
    question_files,
    set_name,
    split_of,
)

__all__ = [
    "CITED",
    "RELIABILITY_BINS",
    "SPLITS",
    "Item",
    "answer_right",
    "brier",
    "by_kind",
    "evaluate",
    "evaluate_files",
    "grounded",
    "is_test_file",
    "load_questions",
    "question_files",
    "reliability",
    "set_name",
    "split_of",
    "split_report",
    "summarize",
]
