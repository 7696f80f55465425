"""What users asked and rated: the question log, where it is stored, feedback and the
curator's report routes."""

from mscqa.server.questions.log import QuestionLog
from mscqa.server.questions.routes import admin_router, router
from mscqa.server.questions.sqlitestore import SQLiteQuestionStore
from mscqa.server.questions.store import QuestionStore

__all__ = ["QuestionLog", "QuestionStore", "SQLiteQuestionStore", "admin_router", "router"]
