"""Plain ASGI middleware: security headers and access log, CORS, body caps, load shedding,
per-client rate limits, the MSCQA_API_KEY check, error replies in each API's shape."""

from mscqa.server.middleware.apikey import ApiKeyAuth
from mscqa.server.middleware.limits import BodySizeLimit, ConcurrencyLimit
from mscqa.server.middleware.ratelimit import RateLimit, TokenBuckets
from mscqa.server.middleware.reshape import ReshapeErrors
from mscqa.server.middleware.security import ScopedCORS, SecurityHeaders

__all__ = [
    "ApiKeyAuth",
    "BodySizeLimit",
    "ConcurrencyLimit",
    "RateLimit",
    "ReshapeErrors",
    "ScopedCORS",
    "SecurityHeaders",
    "TokenBuckets",
]
