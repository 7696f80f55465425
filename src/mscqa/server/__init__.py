"""The HTTP edge: the FastAPI app, its routes, pages, schemas, middleware and the admin API."""

from mscqa.server.app import create_app

__all__ = ["create_app"]
