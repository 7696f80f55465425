"""The README documents every setting, and its two commands are the ones CI runs."""

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
