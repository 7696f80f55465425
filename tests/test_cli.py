"""``mscqa index | ask | serve | eval``: every command, its output and its exit code.

The commands run as a user runs them, configured by ``MSCQA_*`` variables, with the real model:
in process through ``cli.main`` (output read with capsys), and ``serve`` as a real
``python -m mscqa.cli serve`` process. Each index folder starts with a copy of the session
index's ONNX export, so no test exports the model again.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from conftest import ROOT, free_port, write_corpus
from mscqa.cli import main
from mscqa.config import Settings
from mscqa.index import current_version, list_versions
from mscqa.service import QAService

QUESTIONS = [
    {"id": "fat", "question": "How are adipose stem cells collected?", "gold": ["liposuction"]},
    {"id": "oos", "question": "Who won the 1998 football world cup?", "expect_abstain": True},
]


@pytest.fixture
def cli_env(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    real_service: QAService,
    real_settings: Settings,
) -> Settings:
    """A tiny corpus and an index folder (the session's export copied in), set as MSCQA_*."""
    corpus = write_corpus(tmp_path / "corpus")
    index = tmp_path / "index"
    shutil.copytree(real_settings.index_dir / "models", index / "models")
    for name in list(os.environ):
        if name.startswith("MSCQA_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("MSCQA_CORPUS_DIR", str(corpus))
    monkeypatch.setenv("MSCQA_INDEX_DIR", str(index))
    monkeypatch.setenv("MSCQA_LOG_LEVEL", "WARNING")
    monkeypatch.chdir(tmp_path)  # no .env of the repository's
    return Settings(_env_file=None)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_index_builds_and_reports(cli_env: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "index")
    assert code == 0, err
    assert out.startswith("Indexed 3 documents into ")
    assert current_version(cli_env.index_dir) in out
    code, out, _ = run(capsys, "index", "--json")
    assert code == 0
    summary = json.loads(out)
    assert summary["documents"] == 3 and summary["embedded"] == 0  # nothing changed
    assert summary["version"] == current_version(cli_env.index_dir)


def test_index_reports_skipped_files(cli_env: Settings, capsys) -> None:
    (cli_env.corpus_dir / "broken.pdf").write_bytes(b"%PDF-1.4 not really")
    code, out, _ = run(capsys, "index")
    assert code == 0
    assert "skipped broken.pdf:" in out


def test_index_of_an_empty_corpus_fails(cli_env: Settings, capsys) -> None:
    shutil.rmtree(cli_env.corpus_dir)
    cli_env.corpus_dir.mkdir()
    code, out, err = run(capsys, "index")
    assert code == 1 and out == ""
    assert err.startswith("Error: No document could be indexed")
    assert current_version(cli_env.index_dir) is None


def test_rollback(cli_env: Settings, capsys) -> None:
    code, _, err = run(capsys, "index", "--rollback")
    assert code == 1
    assert "no earlier index snapshot" in err
    assert run(capsys, "index")[0] == 0
    first = current_version(cli_env.index_dir)
    (cli_env.corpus_dir / "new.md").write_text("# New\n\nBone marrow is soft.\n", "utf-8")
    assert run(capsys, "index")[0] == 0
    assert current_version(cli_env.index_dir) != first
    code, out, err = run(capsys, "index", "--rollback", "--json")
    assert code == 0, err
    assert json.loads(out) == {"version": first}
    assert current_version(cli_env.index_dir) == first
    assert len(list_versions(cli_env.index_dir)) == 2  # rolling back deletes nothing


def test_ask_without_an_index_says_what_to_run(cli_env: Settings, capsys) -> None:
    code, out, err = run(capsys, "ask", "What is liposuction?")
    assert code == 1 and out == ""
    assert err.startswith("Error: No index yet") and "mscqa index" in err


def test_ask_text_and_json(cli_env: Settings, capsys) -> None:
    assert run(capsys, "index")[0] == 0
    code, out, err = run(capsys, "ask", "How are adipose stem cells collected?")
    assert code == 0, err
    answer, _, sources = out.partition("\n\n")
    assert "liposuction" in answer and answer.endswith("[1]")
    assert sources.startswith("[1] Adipose MSCs — Collection (adipose.md#")
    code, out, _ = run(capsys, "ask", "How are adipose stem cells collected?", "--json")
    assert code == 0
    body = json.loads(out)
    assert body["answered"] is True and body["citations"][0]["doc_id"] == "adipose.md"
    code, out, _ = run(capsys, "ask", "Who won the 1998 football world cup?")
    assert code == 0
    assert out.startswith("I couldn't find that in the documents.")


def test_ask_refuses_a_bad_top_k(cli_env: Settings, capsys) -> None:
    code, out, err = run(capsys, "ask", "What is liposuction?", "--top-k", "0")
    assert code == 1 and out == ""
    assert err == "Error: --top-k must be between 1 and 20\n"


def test_eval_table_and_json(cli_env: Settings, capsys, tmp_path: Path) -> None:
    questions = tmp_path / "q.jsonl"
    questions.write_text("".join(json.dumps(q) + "\n" for q in QUESTIONS))
    assert run(capsys, "index")[0] == 0
    code, out, err = run(capsys, "eval", str(questions))
    assert code == 0, err
    table = {line.split()[0]: line.split()[1:] for line in out.splitlines() if line.strip()}
    assert table["questions"] == ["2"] and table["hit@1"] == ["1.0"]  # one column: dev
    code, out, _ = run(capsys, "eval", str(questions), "--json")
    result = json.loads(out)
    metrics = result["splits"]["dev"]["metrics"]
    assert code == 0 and metrics["abstention_recall"] == 1.0 and "rows" not in result
    code, out, _ = run(capsys, "eval", str(questions), "--json", "--rows")
    assert code == 0 and [r["id"] for r in json.loads(out)["rows"]] == ["fat", "oos"]


def test_eval_of_a_bad_question_file(cli_env: Settings, capsys, tmp_path: Path) -> None:
    questions = tmp_path / "q.jsonl"
    questions.write_text('{"question": "ok?"}\n{"not a question": 1}\n')
    assert run(capsys, "index")[0] == 0
    code, _, err = run(capsys, "eval", str(questions))
    assert code == 1
    assert err.startswith(f"Error: {questions}:2: not a valid question record")


def test_bad_configuration_names_the_variable(cli_env: Settings, capsys, monkeypatch) -> None:
    monkeypatch.setenv("MSCQA_TOP_K", "99")
    code, out, err = run(capsys, "ask", "What is liposuction?")
    assert code == 1 and out == ""
    assert err.startswith("Error: invalid configuration:") and "top_k" in err


def test_usage_errors_exit_2(capsys) -> None:
    with pytest.raises(SystemExit) as exc:
        main([])
    assert exc.value.code == 2
    with pytest.raises(SystemExit) as exc:
        main(["ask"])  # the question is missing
    assert exc.value.code == 2
    assert "question" in capsys.readouterr().err


def serve(settings: Settings, *extra: str, env: dict[str, str] | None = None) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "mscqa.cli", "serve", *extra],
        env={**os.environ, "HF_HUB_OFFLINE": "1", **(env or {})},
        cwd=settings.index_dir.parent,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


@pytest.mark.slow
def test_serve_builds_a_missing_index_then_answers(cli_env: Settings) -> None:
    port = free_port()
    proc = serve(cli_env, "--host", "127.0.0.1", "--port", str(port))
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            assert proc.poll() is None, proc.communicate()[0].decode()[-2000:]
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "mscqa serve did not become ready"
            time.sleep(0.2)
        assert current_version(cli_env.index_dir) is not None  # serve built it
        r = httpx.post(f"{url}/ask", json={"question": "How are adipose stem cells collected?"})
        assert r.status_code == 200 and r.json()["answered"]
    finally:
        proc.terminate()
        output = proc.communicate(timeout=30)[0].decode()
    # uvicorn shuts down cleanly on SIGTERM, then re-raises it: the exit status says SIGTERM
    assert proc.returncode == -signal.SIGTERM, output[-2000:]
    assert "Traceback" not in output


@pytest.mark.slow
def test_serve_with_nothing_to_index_exits_1(cli_env: Settings) -> None:
    shutil.rmtree(cli_env.corpus_dir)
    cli_env.corpus_dir.mkdir()
    proc = serve(cli_env, "--port", str(free_port()))
    output = proc.communicate(timeout=120)[0].decode()
    assert proc.returncode == 1
    assert "Error: No document could be indexed" in output


@pytest.mark.slow
def test_serve_with_a_bad_port_setting_exits_1(cli_env: Settings) -> None:
    proc = serve(cli_env, env={"MSCQA_PORT": "70000"})
    output = proc.communicate(timeout=60)[0].decode()
    assert proc.returncode == 1
    assert "Error: invalid configuration" in output and "port" in output


def test_the_entry_point_is_installed() -> None:
    script = Path(sys.executable).with_name("mscqa")
    assert script.is_file(), "pip install -e . installs the mscqa command"
    out = subprocess.run([script, "--help"], capture_output=True, text=True, cwd=ROOT, check=True)
    assert all(c in out.stdout for c in ("index", "ask", "serve", "eval"))
