"""Settings: names that say what they size, and the deprecated name that still works."""

from __future__ import annotations

import warnings

import pytest

from mscqa.cli import main
from mscqa.config import Settings


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    for name in ("MSCQA_QUERY_THREADS", "MSCQA_TORCH_THREADS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no .env


def test_query_threads_is_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MSCQA_QUERY_THREADS", "2")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the current name warns about nothing
        settings = Settings()
    assert settings.query_threads == 2
    assert settings.torch_threads is None


def test_the_old_name_still_works_with_a_deprecation_warning(monkeypatch) -> None:
    monkeypatch.setenv("MSCQA_TORCH_THREADS", "3")
    with pytest.warns(DeprecationWarning, match="MSCQA_TORCH_THREADS is deprecated.*QUERY_THREADS"):
        settings = Settings()
    assert settings.query_threads == 3


def test_the_new_name_wins_when_both_are_set(monkeypatch) -> None:
    monkeypatch.setenv("MSCQA_TORCH_THREADS", "3")
    monkeypatch.setenv("MSCQA_QUERY_THREADS", "2")
    with pytest.warns(DeprecationWarning):
        settings = Settings()
    assert settings.query_threads == 2


def test_the_old_name_is_still_validated(monkeypatch) -> None:
    monkeypatch.setenv("MSCQA_TORCH_THREADS", "0")
    with pytest.raises(ValueError, match="torch_threads"):
        Settings()


def test_the_cli_shows_the_deprecation(monkeypatch, capsys, tmp_path) -> None:
    monkeypatch.setenv("MSCQA_TORCH_THREADS", "2")
    monkeypatch.setenv("MSCQA_INDEX_DIR", str(tmp_path / "no-index"))
    assert main(["ask", "What is liposuction?"]) == 1  # no index; the warning comes first
    err = capsys.readouterr().err
    assert err.startswith("Warning: MSCQA_TORCH_THREADS is deprecated")
    assert "Error: No index yet" in err


def test_server_builds_have_their_own_thread_setting(monkeypatch) -> None:
    assert Settings().server_build_threads == 1  # the other core stays with questions
    monkeypatch.setenv("MSCQA_SERVER_BUILD_THREADS", "2")
    assert Settings().server_build_threads == 2
