"""Every benchmark script still imports and parses its options.

The benchmarks are run by hand (and by the lead at the end of a session), not by the suite, so a
renamed import or a changed helper breaks them silently — it happened twice (rebuild_memory's
import after the restructure, backends' embedder after the Embedder seam grew). This runs each
script's ``main`` with ``--help``: the import, the option parser and the help text must work.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SCRIPTS = sorted(
    ".".join(p.relative_to(ROOT).with_suffix("").parts)
    for p in [*(ROOT / "bench").glob("*/*.py"), ROOT / "bench" / "run_all.py"]
    if p.name != "__init__.py" and "def main(" in p.read_text(encoding="utf-8")
)


def test_every_script_is_found() -> None:
    assert "bench.perf.backends" in SCRIPTS and "bench.quality.report" in SCRIPTS
    assert len(SCRIPTS) >= 20


@pytest.mark.parametrize("name", SCRIPTS)
def test_script_imports_and_parses_help(
    name: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    module = importlib.import_module(name)
    monkeypatch.setattr(sys, "argv", [name, "--help"])
    with pytest.raises(SystemExit) as exit_:
        module.main()
    assert exit_.value.code == 0
    assert "usage:" in capsys.readouterr().out
