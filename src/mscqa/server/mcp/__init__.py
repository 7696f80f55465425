"""The MCP server: read-only tools ``ask``, ``search``, ``list_documents`` over the service
(tools.py), served at ``/mcp`` over streamable HTTP (http.py) and on stdio (``mscqa mcp``)."""

from mscqa.server.mcp.http import PATH, McpHttp, http_endpoint, reshape, transport_security
from mscqa.server.mcp.tools import Passage, SearchResult, build_server

__all__ = [
    "PATH",
    "McpHttp",
    "Passage",
    "SearchResult",
    "build_server",
    "http_endpoint",
    "reshape",
    "transport_security",
]
