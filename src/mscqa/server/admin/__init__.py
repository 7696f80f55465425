"""The curator's write path under /admin: routes, streamed uploads, deletes and rebuild jobs."""

from mscqa.server.admin.jobs import Job, JobManager
from mscqa.server.admin.routes import router

__all__ = ["Job", "JobManager", "router"]
