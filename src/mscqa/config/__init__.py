"""The one ``Settings`` object (``settings``), built once at the edge (CLI, app factory) and
passed down; what each value may look like (``values``)."""

from mscqa.config.settings import Settings

__all__ = ["Settings"]
