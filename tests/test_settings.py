"""Settings: keyword arguments over ZHIKU_* variables over ./zhiku.toml, and readable errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from pydantic import ValidationError

from zhiku.cli import main
from zhiku.settings import Settings, describe_invalid


def test_arguments_then_environment_then_toml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "zhiku.toml").write_text(
        'embedder = "use"\ntop_k = 4\ndense_weight = 0.7\nparser_plugins = ["from.toml:register"]\n', encoding="utf-8"
    )
    assert (Settings().embedder, Settings().top_k, Settings().dense_weight) == ("use", 4, 0.7)
    monkeypatch.setenv("ZHIKU_TOP_K", "6")
    monkeypatch.setenv("zhiku_embedder", "hash")  # any case, like pydantic-settings
    monkeypatch.setenv("ZHIKU_PARSER_PLUGINS", '["a.b:register", "c:d"]')  # lists as JSON
    monkeypatch.setenv("ZHIKU_NOT_A_SETTING", "ignored")
    s = Settings(dense_weight=0.2)
    assert (s.embedder, s.top_k, s.dense_weight) == ("hash", 6, 0.2)
    assert s.parser_plugins == ["a.b:register", "c:d"]
    assert s.with_overrides(top_k=9).top_k == 9 and s.with_overrides(top_k=9).embedder == "hash"


def test_bad_values_say_which_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ZHIKU_TOP_K", "many")
    with pytest.raises(ValidationError) as caught:
        Settings()
    assert "top_k (ZHIKU_TOP_K)" in describe_invalid(caught.value)
    result = CliRunner().invoke(main, ["--home", str(tmp_path / "home"), "kb", "list"])
    assert result.exit_code == 1
    assert "invalid settings" in result.output and "ZHIKU_TOP_K" in result.output and "Traceback" not in result.output
    monkeypatch.delenv("ZHIKU_TOP_K")
    monkeypatch.setenv("ZHIKU_PARSER_PLUGINS", "pkg.module:register")  # not JSON
    result = CliRunner().invoke(main, ["--home", str(tmp_path / "home"), "kb", "list"])
    assert result.exit_code == 1 and "ZHIKU_PARSER_PLUGINS must be JSON" in result.output
