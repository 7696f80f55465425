"""The question log in PostgreSQL (``MSCQA_DATABASE_URL``): every replica's questions and
ratings in one place, so a curator's report covers them all.

The same interface and semantics as ``SQLiteQuestionStore``; the tables (``mscqa.questions``,
``mscqa.feedback``) come from the index database's migrations (``index/pgdb.py``), applied by
``mscqa index``. ``write`` runs on the log's one writer thread; reads on any thread.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mscqa.index import pgdb
from mscqa.index.pgstore import reachable
from mscqa.server.questions.store import (
    FeedbackRecord,
    OneWriter,
    QuestionGroup,
    QuestionRecord,
    Status,
    question_groups,
    question_row,
)

_LATEST = """
SELECT DISTINCT ON (q.normalised) q.normalised, q.question, q.answered, q.confidence,
       q.index_version, q.context, q.answer, q.passage
FROM mscqa.questions q {join} WHERE {where} ORDER BY q.normalised, q.at DESC
"""
_COUNTS = """
SELECT q.normalised, count(*) AS n, max(q.at) AS last_seen,
       count(*) FILTER (WHERE f.rating = 'up') AS ups,
       count(*) FILTER (WHERE f.rating = 'down') AS downs
FROM mscqa.questions q {join} WHERE {where} GROUP BY q.normalised
"""
# What each report groups, as the SQLite store's queries do; the latest wording of a question
# and what was found for it come from its newest row (DISTINCT ON), as SQLite's bare columns.
_FILTERS: dict[str, tuple[str, str]] = {
    "unanswered": ("LEFT JOIN mscqa.feedback f ON f.answer_id = q.id", "NOT q.answered"),
    "downvoted": ("JOIN mscqa.feedback f ON f.answer_id = q.id", "f.rating = 'down'"),
    "all": ("LEFT JOIN mscqa.feedback f ON f.answer_id = q.id", "true"),
}


class PgQuestionStore(OneWriter[Any]):
    """The question log in the index database."""

    def __init__(self, url: str) -> None:
        super().__init__()
        self.url = url
        conn = pgdb.connect(url)
        try:
            pgdb.check_schema(conn)  # the tables exist (a reader never migrates)
        finally:
            conn.close()

    def _open_writer(self) -> Any:
        return pgdb.connect(self.url)

    def _usable(self, conn: Any) -> bool:
        return not (conn.closed or conn.broken)

    def write(
        self, questions: Sequence[QuestionRecord], feedback: Sequence[FeedbackRecord]
    ) -> None:
        with self._writer_lock, reachable(self.url):
            conn = self._writer_conn()
            with conn.transaction(), conn.cursor() as cur:
                cur.executemany(
                    "INSERT INTO mscqa.questions (id, at, question, normalised, context,"
                    " answered, confidence, index_version, answer, passage)"
                    " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
                    " ON CONFLICT (id) DO NOTHING",
                    [_row(q) for q in questions],
                )
                # a rating whose question was pruned meanwhile is skipped, not a failed batch
                cur.executemany(
                    "INSERT INTO mscqa.feedback (answer_id, at, rating, comment)"
                    " SELECT %s, %s, %s, %s WHERE EXISTS"
                    " (SELECT 1 FROM mscqa.questions WHERE id = %s)"
                    " ON CONFLICT (answer_id) DO UPDATE SET at = excluded.at,"
                    " rating = excluded.rating, comment = excluded.comment",
                    [(f.answer_id, f.at, f.rating, f.comment, f.answer_id) for f in feedback],
                )

    def prune(self, before: float) -> int:
        with self._writer_lock, reachable(self.url):
            conn = self._writer_conn()
            with conn.transaction():
                cur = conn.execute("DELETE FROM mscqa.questions WHERE at < %s", (before,))
                return int(cur.rowcount)

    def _read(self, query: str, params: Any) -> list[Any]:
        with reachable(self.url):
            conn = pgdb.connect(self.url, autocommit=True)
            try:
                return list(conn.execute(query, params).fetchall())
            finally:
                conn.close()

    def has(self, answer_id: str) -> bool:
        return bool(self._read("SELECT 1 FROM mscqa.questions WHERE id = %s", (answer_id,)))

    def report(self, status: Status, since: float, limit: int) -> list[QuestionGroup]:
        join, where = _FILTERS[status]
        where = f"({where}) AND q.at >= %(since)s"
        rows = self._read(
            f"WITH counts AS ({_COUNTS.format(join=join, where=where)}),"
            f" latest AS ({_LATEST.format(join=join, where=where)})"
            " SELECT c.normalised, l.question, c.n, c.last_seen, l.answered, l.confidence,"
            " l.index_version, l.context, l.answer, l.passage, c.ups, c.downs"
            " FROM counts c JOIN latest l USING (normalised)"
            " ORDER BY c.n DESC, c.last_seen DESC LIMIT %(limit)s",
            {"since": since, "limit": limit},
        )
        keys = [r[0] for r in rows]
        comments = []
        if keys:
            comments = self._read(
                "SELECT q.normalised, f.rating, f.comment, f.at FROM mscqa.feedback f"
                " JOIN mscqa.questions q ON q.id = f.answer_id WHERE q.normalised = ANY(%s)"
                " AND f.comment IS NOT NULL AND f.comment <> '' AND q.at >= %s"
                " ORDER BY f.at DESC",
                (keys, since),
            )
        return question_groups(rows, comments)


def _row(q: QuestionRecord) -> tuple[Any, ...]:
    row = list(question_row(q))
    row[5] = bool(row[5])  # answered: SQLite's 0/1, a boolean here
    return tuple(row)
