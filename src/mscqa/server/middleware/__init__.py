"""Plain ASGI middleware: security headers and access log, CORS, body caps, load shedding,
per-client rate limits and the MSCQA_API_KEY check."""

from mscqa.server.middleware.apikey import ApiKeyAuth
from mscqa.server.middleware.limits import BodySizeLimit, ConcurrencyLimit
from mscqa.server.middleware.ratelimit import RateLimit, TokenBuckets
from mscqa.server.middleware.security import ScopedCORS, SecurityHeaders

__all__ = [
    "ApiKeyAuth",
    "BodySizeLimit",
    "ConcurrencyLimit",
    "RateLimit",
    "ScopedCORS",
    "SecurityHeaders",
    "TokenBuckets",
]
