"""Every benchmark script still imports and parses its options.

The benchmarks are run by hand (and by the lead at the end of a session), not by the suite, so a
renamed import or a changed helper breaks them silently — it happened twice (rebuild_memory's
import after the restructure, backends' embedder after the Embedder seam grew). This runs each
script's ``main`` with ``--help``: the import, the option parser and the help text must work.
Where a script reads another command's output, that reading is checked on the real output too:
``bench.run_all`` crashed at its combined table (``KeyError: 'hit@1'``) after ``mscqa eval
--json`` began reporting each split.
"""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path

import pytest

from mscqa.cli import main as mscqa_main
from mscqa.service import QAService

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


def test_run_all_tables_the_real_eval_output(
    tmp_path: Path,
    tiny_service: QAService,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """``mscqa eval --json`` on a dev file, as bench.run_all runs it (here in process, on the
    tiny index), read by run_all and printed in its combined table."""
    from bench import run_all

    questions = tmp_path / "devset.jsonl"
    rows = [
        {"id": "fat", "question": "How are adipose stem cells collected?", "gold": ["liposuction"]},
        {"id": "oos", "question": "Who won the 1998 football world cup?", "expect_abstain": True},
    ]
    questions.write_text("".join(json.dumps(r) + "\n" for r in rows))
    monkeypatch.setenv("MSCQA_INDEX_DIR", str(tiny_service.settings.index_dir))
    monkeypatch.setattr("mscqa.service.QAService", lambda settings: tiny_service)
    assert mscqa_main(["eval", str(questions), "--json"]) == 0
    metrics = run_all.dev_metrics(json.loads(capsys.readouterr().out))
    assert metrics["questions"] == 2
    encoders = ("default", "onnx fp32", "torch", "onnx int8")
    results = {"machine": {}, "machine_after": {}, "latency": None}
    results["quality"] = run_all.compared({name: dict(metrics) for name in encoders})
    results["rows"] = run_all.combined_rows(results)
    table = run_all.combined_table(results)
    for key in run_all.QUALITY_KEYS:
        assert f"dev set {key}: default (torch / int8)" in table
    assert "int8 within 0.005 of torch on the dev set: True" in table
    with pytest.raises(KeyError, match="hit@1"):  # a shape it cannot read is named
        run_all.dev_metrics({"splits": {"dev": {"metrics": {"mrr": 1.0}}}})
