"""The README documents every setting, its two commands are the ones CI runs, and its
architecture section is the package's folder listing."""

from __future__ import annotations

import re
from pathlib import Path

from mscqa.config import Settings

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def settings_rows() -> dict[str, str]:
    table = README.split("<!-- settings-table:start -->")[1].split("<!-- settings-table:end -->")[0]
    rows = {}
    for line in table.splitlines():
        m = re.match(r"\|\s*`(MSCQA_[A-Z_]+)`\s*\|(.*)\|(.*)\|", line)
        if m:
            rows[m.group(1)] = m.group(2).strip()
    return rows


def test_every_setting_is_documented_with_its_default() -> None:
    rows = settings_rows()
    expected = {f"MSCQA_{name.upper()}": field for name, field in Settings.model_fields.items()}
    assert set(rows) == set(expected), "README settings table and Settings disagree"
    for var, field in expected.items():
        if var == "MSCQA_WEB_DIR":
            continue  # an absolute path on the build machine
        default = field.default
        shown = "" if default is None else str(default)
        assert rows[var] == f"`{shown}`", f"{var}: README says {rows[var]}, code says {shown!r}"


def test_ci_runs_the_readme_test_command() -> None:
    assert "make test" in README and "make run" in README
    ci = (ROOT / ".ci" / "run").read_text()
    assert re.search(r"^make test$", ci, re.M)


def architecture_listing() -> list[tuple[str, str]]:
    """``(path, description)`` for each line of the README's folder listing of ``src/mscqa``:
    ``server/admin`` for ``    admin/`` under ``  server/``."""
    section = README.split("### Architecture")[1].split("\n### ")[0]
    block = section.split("```")[1]
    listing = block.split("src/mscqa/\n")[1].split("\nweb/")[0]
    entries: list[tuple[str, str]] = []
    parents: list[str] = []
    for line in listing.splitlines():
        m = re.match(r"^( +)(\S+)\s{2,}(\S.*)$", line)
        assert m, f"not one entry and its description: {line!r}"
        depth = len(m.group(1)) // 2 - 1
        name = m.group(2)
        parents[depth:] = [name.rstrip("/")]
        entries.append(("/".join(parents) + ("/" if name.endswith("/") else ""), m.group(3)))
    return entries


def test_the_architecture_section_lists_every_package_on_one_line() -> None:
    src = ROOT / "src" / "mscqa"
    packages = {
        p.parent.relative_to(src).as_posix() + "/"
        for p in src.rglob("__init__.py")
        if p.parent != src
    }
    top_modules = {p.name for p in src.glob("*.py") if p.name != "__init__.py"}
    listed = [path for path, _ in architecture_listing()]
    assert len(listed) == len(set(listed)), "an entry is listed twice"
    assert set(listed) == packages | top_modules
