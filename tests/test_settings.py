"""Settings: keyword arguments over ZHIKU_* variables over ./zhiku.toml, and readable errors."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from zhiku.cli import main
from zhiku.settings import Settings, SettingsError, describe_invalid


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
    with pytest.raises(SettingsError) as caught:
        Settings()
    assert "top_k (ZHIKU_TOP_K)" in describe_invalid(caught.value)
    with pytest.raises(SettingsError) as caught:  # every problem at once, each with what is expected
        Settings(ocr="sometimes", dense_weight=2, chunk_tokens=8, embed_input_type="perhaps", home=3)
    assert {e["loc"][0]: e["msg"] for e in caught.value.errors()} == {
        "top_k": "Input should be a valid integer",
        "ocr": "Input should be one of 'auto', 'off', 'force'",
        "dense_weight": "Input should be less than or equal to 1.0",
        "chunk_tokens": "Input should be greater than or equal to 32",
        "embed_input_type": "Input should be a valid boolean (true/false, 1/0, yes/no)",
        "home": "Input should be a path",
    }
    result = CliRunner().invoke(main, ["--home", str(tmp_path / "home"), "kb", "list"])
    assert result.exit_code == 1
    assert "invalid settings" in result.output and "ZHIKU_TOP_K" in result.output and "Traceback" not in result.output
    monkeypatch.delenv("ZHIKU_TOP_K")
    monkeypatch.setenv("ZHIKU_PARSER_PLUGINS", "pkg.module:register")  # not JSON
    result = CliRunner().invoke(main, ["--home", str(tmp_path / "home"), "kb", "list"])
    assert result.exit_code == 1 and "ZHIKU_PARSER_PLUGINS must be JSON" in result.output


def test_values_are_converted_to_their_types(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ZHIKU_EMBED_INPUT_TYPE", "yes")
    monkeypatch.setenv("ZHIKU_MAX_FILE_MB", "12")
    monkeypatch.setenv("ZHIKU_DATABASE", str(tmp_path / "x.db"))
    s = Settings(home=str(tmp_path), ocr_dpi=150.0)
    assert s.embed_input_type is True and s.max_file_mb == 12.0 and isinstance(s.max_file_mb, float)
    assert s.home == tmp_path and s.database_path == tmp_path / "x.db" and s.cache_dir == tmp_path / "cache"
    assert s.ocr_dpi == 150 and isinstance(s.ocr_dpi, int)
    assert Settings(home=tmp_path).llm_api_key is None and Settings(home=tmp_path).parser_plugins == []


@pytest.mark.parametrize(
    ("env", "value", "says"),
    [
        ("ZHIKU_FUSION", "xyz", "Input should be one of 'zscore', 'minmax', 'rrf'"),
        ("ZHIKU_PORT", "99999", "less than or equal to 65535"),
        ("ZHIKU_CHUNK_OVERLAP", "1000", "must be smaller than chunk_tokens (300)"),
    ],
)
def test_values_that_would_fail_later_are_refused_up_front(
    monkeypatch: pytest.MonkeyPatch, env: str, value: str, says: str
) -> None:
    # They failed later: a ValueError traceback on search, an OverflowError on serve, every file's
    # parser process dying with the reason only in a log file.
    monkeypatch.setenv(env, value)
    with pytest.raises(SettingsError, match=re.escape(says)):
        Settings()
