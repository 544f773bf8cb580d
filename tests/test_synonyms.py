"""An organisation's synonyms file (ZHIKU_SYNONYMS): documents and questions meet in other words."""

from __future__ import annotations

from pathlib import Path

import pytest

from zhiku import App, Settings
from zhiku.errors import ConfigError
from zhiku.synonyms import Synonyms
from zhiku.text import Analyzer

GROUPS = (
    "# words that mean the same here\n餐补, 饭补, 伙食补贴\nCISO, chief information security officer\n"
    "OA，office automation\n"
)


@pytest.fixture
def synonyms_file(tmp_path: Path) -> Path:
    path = tmp_path / "synonyms.txt"
    path.write_text(GROUPS, encoding="utf-8")
    return path


def test_variants_are_read_as_the_group_s_first_word(synonyms_file: Path) -> None:
    synonyms = Synonyms.load(synonyms_file)
    assert synonyms.groups[0] == ["餐补", "饭补", "伙食补贴"]
    assert synonyms("每月饭补和伙食补贴") == "每月餐补和餐补"
    assert synonyms("the chief  information\\nsecurity officer".replace("\\n", "\n")) == "the ciso"
    assert synonyms("a boat and the office automation system") == "a boat and the oa system"  # whole words only


def test_the_analyser_gives_both_wordings_the_same_terms(synonyms_file: Path) -> None:
    analyzer = Analyzer(synonyms=Synonyms.load(synonyms_file))
    assert "ciso" in analyzer.query_terms("Who is the Chief Information Security Officer?")
    assert analyzer.query_terms("Who is the CISO?") == ["ciso"]
    assert "餐补" in analyzer.query_terms("每月饭补是多少？")
    # a Traditional question meets the Simplified group
    assert "餐补" in analyzer.query_terms("每月飯補是多少？")
    assert Analyzer().signature == "" and analyzer.signature == Synonyms.load(synonyms_file).fingerprint


def test_a_question_in_the_organisation_s_other_words_is_answered(settings: Settings, synonyms_file: Path) -> None:
    docs = settings.home.parent / "docs"
    docs.mkdir()
    (docs / "security.md").write_text(
        "# Security team\n\nThe Chief Information Security Officer is Daniel Wu.\n", encoding="utf-8"
    )
    plain = App(settings)
    try:
        plain.ensure_kb("k")
        assert plain.add("k", [docs]).ok
        assert plain.ask("k", "Who is the CISO?").refused
    finally:
        plain.close()
    with_synonyms = App(settings.with_overrides(synonyms=synonyms_file))
    try:
        # The file changes what documents' terms are: the same file is indexed again, once.
        assert (
            with_synonyms.sync("k", docs)
            .to_dict()["summary"]
            .startswith(
                "0 new, 0 changed, 1 to parse again (indexed by another zhiku version, chunk size or synonyms file)"
            )
        )
        answer = with_synonyms.ask("k", "Who is the CISO?")
        assert not answer.refused and "Daniel Wu" in answer.text
        assert with_synonyms.sync("k", docs).to_dict()["summary"].startswith("nothing to do")
    finally:
        with_synonyms.close()


def test_an_unreadable_synonyms_file_says_which_setting(settings: Settings, tmp_path: Path) -> None:
    app = App(settings.with_overrides(synonyms=tmp_path / "missing.txt"))
    try:
        app.ensure_kb("k")
        with pytest.raises(ConfigError, match="ZHIKU_SYNONYMS: cannot read"):
            app.search("k", "anything")
    finally:
        app.close()
