"""What users asked and rated: the question log, where it is stored, feedback and the
curator's report routes."""

from mscqa.server.questions.log import QuestionLog
from mscqa.server.questions.routes import admin_router, router
from mscqa.server.questions.store import QuestionStore, SQLiteQuestionStore

__all__ = ["QuestionLog", "QuestionStore", "SQLiteQuestionStore", "admin_router", "router"]
