"""What an HTML page's markup says is not its content: elements left out of the text (landmarks,
hidden, interactive), and blocks kept in the text but marked as site chrome for
``mscqa.ingest.boilerplate`` (link lists, navigation/footer/banner classes).

Standard library only (the nodes are selectolax's, duck-typed), like the other extract helpers.
"""

from __future__ import annotations

import re
from typing import Any

DROP_TAGS = frozenset(
    {
        "script", "style", "noscript", "nav", "footer", "aside", "form", "template", "svg",
        "iframe", "object", "embed", "canvas", "button", "select", "textarea", "input", "head",
        "audio", "video", "map", "dialog", "title", "link", "meta",
    }
)  # fmt: skip
# ARIA landmarks that mean the same as the dropped elements.
DROP_ROLES = frozenset({"navigation", "banner", "contentinfo", "complementary", "search", "form"})
# Site chrome the page keeps in the text but marks (``Block.chrome``, then
# ``mscqa.ingest.boilerplate``): elements whose class or id names navigation, a footer, a
# banner... (Readability's "unlikely candidates", unless the name also says content), and
# blocks that are mostly link text (jusText's link density).
_CHROME_NAME_RE = re.compile(
    r"(?:^|[\s_-])(?:nav|navbar|navigation|menu|breadcrumbs?|footer|header|masthead|sidebar|"
    r"widget|related|share|sharing|social|cookies?|consent|gdpr|banner|pagination|pager|"
    r"newsletter|subscribe|promo|sponsors?|advert|ads?)(?:$|[\s_-])",
    re.I,
)
_CONTENT_NAME_RE = re.compile(r"article|content|main|body", re.I)
LINK_DENSITY = 0.5
MAX_CHROME = 0.5  # of the page's text: a chrome element holding more is a layout wrapper
_HIDDEN_STYLE_RE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.I)
# Blocks a chrome class can mark (an inline element's class splits no paragraph).
_CHROME_BLOCKS = frozenset(
    {
        "aside", "blockquote", "center", "details", "div", "dl", "figure", "footer", "header",
        "li", "menu", "nav", "ol", "p", "section", "table", "ul",
    }
)  # fmt: skip


def is_hidden(attrs: dict[str, str | None]) -> bool:
    if "hidden" in attrs:
        return True
    if (attrs.get("aria-hidden") or "").strip().lower() == "true":
        return True
    if (attrs.get("role") or "").strip().lower() in DROP_ROLES:
        return True
    style = attrs.get("style")
    return bool(style and _HIDDEN_STYLE_RE.search(style))


def is_chrome(node: Any) -> bool:
    """A block whose class or id names site chrome, unless it is or holds the page's content
    (``<body class="has-sidebar">``, a wrapper around ``<main>`` or the ``<h1>``)."""
    if node.tag not in _CHROME_BLOCKS:
        return False
    attrs = node.attributes
    names = f"{attrs.get('class') or ''} {attrs.get('id') or ''}".strip()
    return bool(
        names
        and _CHROME_NAME_RE.search(names)
        and not _CONTENT_NAME_RE.search(names)
        and node.css_first("main, article, h1, [role=main]") is None
    )


def inside_content(node: Any) -> bool:
    """True for a <header> inside <article>/<main> (an article's own header: title, byline)."""
    parent = node.parent
    while parent is not None:
        if parent.tag in ("article", "main"):
            return True
        parent = parent.parent
    return False
