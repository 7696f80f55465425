"""Plain ASGI middleware: security headers and access log, CORS, body caps, load shedding and
per-client rate limits."""

from mscqa.server.middleware.limits import BodySizeLimit, ConcurrencyLimit
from mscqa.server.middleware.ratelimit import RateLimit, TokenBuckets
from mscqa.server.middleware.security import ScopedCORS, SecurityHeaders

__all__ = [
    "BodySizeLimit",
    "ConcurrencyLimit",
    "RateLimit",
    "ScopedCORS",
    "SecurityHeaders",
    "TokenBuckets",
]
