"""What a setting's value may look like: the parsing and checks behind ``Settings``'
validators, as plain functions. Each error names the ``MSCQA_*`` variable and says what fits.

>>> origins("https://a.example, https://b.example/")
['https://a.example', 'https://b.example']
>>> public_url(" https://mscqa.example.org/ ")
'https://mscqa.example.org'
"""

from __future__ import annotations

import ipaddress
import json

LOG_LEVELS = {"DEBUG", "INFO", "WARNING", "ERROR"}


def log_level(value: str) -> str:
    if value.upper() not in LOG_LEVELS:
        raise ValueError(f"MSCQA_LOG_LEVEL must be one of {sorted(LOG_LEVELS)}, got {value!r}")
    return value.upper()


def origins(value: object) -> list[str]:
    """CORS origins from a comma-separated list or a JSON list, without trailing slashes."""
    if isinstance(value, str):
        text = value.strip()
        try:
            value = json.loads(text) if text.startswith("[") else text.split(",")
        except ValueError as exc:
            raise ValueError(f"MSCQA_CORS_ORIGINS is not a valid JSON list: {exc}") from None
    if not isinstance(value, list | tuple):
        raise ValueError("MSCQA_CORS_ORIGINS must be a comma-separated list or a JSON list")
    found = [str(v).strip().rstrip("/") for v in value if str(v).strip()]
    for origin in found:
        if origin != "*" and not origin.startswith(("http://", "https://")):
            raise ValueError(
                f"MSCQA_CORS_ORIGINS entries must look like https://host[:port], got {origin!r}"
            )
    return found


def proxies(value: object) -> list[str]:
    """Trusted reverse proxies: IP addresses, networks or ``*``, comma-separated."""
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, list | tuple):
        raise ValueError("MSCQA_FORWARDED_ALLOW_IPS must be a comma-separated list")
    found = [str(v).strip() for v in value if str(v).strip()]
    for proxy in found:
        if proxy == "*":
            continue
        try:
            ipaddress.ip_network(proxy, strict=False)
        except ValueError:
            raise ValueError(
                f"MSCQA_FORWARDED_ALLOW_IPS entries must be IP addresses, networks or *, "
                f"got {proxy!r}"
            ) from None
    return found


def database_url(value: str) -> str | None:
    """A PostgreSQL URL; None for an empty one (the folder index, as when unset)."""
    if not value.strip():
        return None
    if not value.startswith(("postgresql://", "postgres://")):
        raise ValueError("MSCQA_DATABASE_URL must start with postgresql:// (or postgres://)")
    return value


def public_url(value: str) -> str:
    """The base URL clients reach the server at, without a trailing slash ('' = unset)."""
    url = value.strip().rstrip("/")
    if url and (not url.startswith(("http://", "https://")) or "?" in url or "#" in url):
        raise ValueError(
            f"MSCQA_PUBLIC_URL must look like https://host[:port][/path], got {value!r}"
        )
    return url
