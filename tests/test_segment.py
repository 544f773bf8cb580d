"""The compact jieba dictionary (zhiku.segment) gives exactly stock jieba's segmentation and counts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from itertools import islice
from pathlib import Path
from typing import Any

import pytest

from zhiku.segment import CompactFreq, build, build_file, import_jieba, load, pack, packable, save, tokenizer_class
from zhiku.text import Analyzer, split_sentences

DATASETS = Path(os.environ.get("ZHIKU_DATASETS", "/work/shared/datasets"))

TEXT = """
新员工的年假怎么申请？入职满一年的员工每年享有十天带薪年假，需提前两周在人事系统中提交申请。
中华人民共和国国务院总理在北京人民大会堂举行记者会，回答中外记者提问。
2022年春节档首日票房冠军是《长津湖之水门桥》，iPhone15和AT&T的C++工程师也来看了电影。
香港特别行政区立法会第七届选举结果公布，共有九十个议席。人工智能和机器学习正在改变医疗诊断。
他说：“我们要坚持以人民为中心的发展思想，不断增强人民群众的获得感、幸福感、安全感。”
小明硕士毕业于中国科学院计算所，后在日本京都大学深造。南京市长江大桥于1968年建成通车。
㐀㐁乂乃齉齾龘豈更車 丝绸之路经济带和21世纪海上丝绸之路 的的的了了了 一二三四五六七八九十
据新华社报道，截至2023年底，全国累计建成5G基站337.7万个，占移动基站总数的29.1%。
"""


@pytest.fixture(scope="module")
def stock() -> Any:
    """jieba's own tokenizer with its own dict (the reference)."""
    jieba = import_jieba()
    tokenizer = jieba.Tokenizer()
    tokenizer.initialize()
    return tokenizer


@pytest.fixture(scope="module")
def lean(tmp_path_factory: pytest.TempPathFactory) -> Any:
    tokenizer = tokenizer_class()()
    tokenizer.tmp_dir = str(tmp_path_factory.mktemp("segment-cache"))
    tokenizer.initialize()
    return tokenizer


def test_every_key_and_count_as_jieba(stock: Any, lean: Any) -> None:
    assert isinstance(lean.FREQ, CompactFreq)
    assert lean.total == stock.total
    assert len(lean.FREQ) == len(stock.FREQ)
    assert all(lean.FREQ.get(word) == count for word, count in stock.FREQ.items())
    # Not a key: None (evidence.py tells a word prefix, count 0, from an unknown word, None).
    for absent in ("天年x", "zhiku", "", "a\0", "\U0001f600", "中华人民共和国宪法法", "x" * 9):
        assert stock.FREQ.get(absent) is None
        assert absent not in lean.FREQ and lean.FREQ.get(absent) is None
    assert lean.FREQ["中华人民共和国"] == stock.FREQ["中华人民共和国"] > 0
    assert lean.FREQ.get("中华人民共和") == 0  # a prefix only
    with pytest.raises(KeyError):
        lean.FREQ["zhiku"]


def test_added_words_as_jieba(tmp_path: Path) -> None:
    """jieba's ``add_word`` (user words) on a lean tokenizer: same counts, same segmentation."""
    jieba = import_jieba()
    stock, lean = jieba.Tokenizer(), tokenizer_class()()
    lean.tmp_dir = str(tmp_path)
    for tokenizer in (stock, lean):
        tokenizer.initialize()
        tokenizer.add_word("智库助手", 500)
        tokenizer.add_word("中华", 5)
    assert len(lean.FREQ) == len(stock.FREQ) and lean.total == stock.total
    for word in ("智库助手", "智库助", "中华", "中华人民共和国"):
        assert lean.FREQ.get(word) == stock.FREQ.get(word)
    sentence = "智库助手读懂了中华人民共和国的文件"
    assert lean.lcut_for_search(sentence) == stock.lcut_for_search(sentence)


def test_segmentation_as_jieba_on_written_text(stock: Any, lean: Any) -> None:
    for sentence in split_sentences(TEXT):
        assert lean.lcut_for_search(sentence) == stock.lcut_for_search(sentence), sentence
        assert lean.lcut(sentence) == stock.lcut(sentence), sentence
        assert lean.lcut(sentence, HMM=False) == stock.lcut(sentence, HMM=False), sentence
        assert lean.lcut(sentence, cut_all=True) == stock.lcut(sentence, cut_all=True), sentence


def test_posseg_shares_the_lean_dictionary(stock: Any, lean: Any) -> None:
    import jieba.posseg

    ours, theirs = jieba.posseg.POSTokenizer(lean), jieba.posseg.POSTokenizer(stock)
    for sentence in split_sentences(TEXT):
        assert [tuple(p) for p in ours.cut(sentence)] == [tuple(p) for p in theirs.cut(sentence)]


def test_analyzer_terms_as_stock_jieba(stock: Any, tmp_path: Path) -> None:
    reference = Analyzer()
    reference.__dict__["_jieba"] = stock  # the cached property, preset to jieba's own tokenizer
    analyzer = Analyzer(tmp_path)
    for sentence in split_sentences(TEXT):
        assert analyzer.terms(sentence) == reference.terms(sentence)
    assert any(p.name.startswith("jieba-compact-") for p in tmp_path.iterdir())


def test_build_matches_gen_pfdict_on_an_odd_dictionary(tmp_path: Path) -> None:
    """Repeated words (the later count wins), words that are prefixes of others, long words, a
    character outside the BMP, a zero count: the same mapping as jieba's loader."""
    jieba = import_jieba()
    lines = [
        "中华 10 n",
        "中华人民共和国 50 ns",
        "中 3",
        "中华 7",
        "人民 20 n",
        "人民大会堂 5 ns",
        "𠀀字 4",
        "字𠀀 2",
        "A股 3 n",
        "零 0",
        "一二三四五 1",
        "一二三 0",
    ]
    source = tmp_path / "dict.txt"
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    expected, expected_total = jieba.Tokenizer.gen_pfdict(source.open("rb"))
    freq, total = build(source)
    assert total == expected_total
    assert len(freq) == len(expected)
    assert all(freq.get(word) == count for word, count in expected.items())
    cache = tmp_path / "cache.bin"
    save(freq, total, cache, source)
    loaded = load(cache, source)
    assert loaded is not None
    assert loaded[1] == total and all(loaded[0].get(w) == c for w, c in expected.items())
    streamed = tmp_path / "streamed.bin"
    build_file(source, streamed)
    assert streamed.read_bytes() == cache.read_bytes()  # the streaming build writes the same file
    # A tokenizer over that dictionary (jieba's own dictionary argument) caches and segments it.
    custom = tokenizer_class()(str(source))
    custom.tmp_dir = str(tmp_path / "custom-cache")  # not there yet: created
    custom.initialize()
    stock_custom = jieba.Tokenizer(str(source))
    stock_custom.tmp_dir = str(tmp_path)
    assert custom.lcut("中华人民共和国人民大会堂A股𠀀字") == stock_custom.lcut("中华人民共和国人民大会堂A股𠀀字")
    assert len(list((tmp_path / "custom-cache").iterdir())) == 1
    # A changed dictionary makes the cache stale; a damaged cache is ignored, never trusted.
    source.write_text("\n".join([*lines, "新词 9"]) + "\n", encoding="utf-8")
    assert load(cache, source) is None
    save(freq, total, cache, source)
    cache.write_bytes(cache.read_bytes()[:-10])
    assert load(cache, source) is None


def test_packing_is_exact() -> None:
    assert packable("中华人民") and not packable("中华人民共") and not packable("𠀀") and not packable("a\0")
    keys = {pack(w) for w in ("a", "ab", "abc", "abcd", "b", "ba", "中", "中华")}
    assert len(keys) == 8
    assert pack("a") < pack("ab") < pack("abc") < pack("abcd") < pack("b")  # prefixes sort first


def test_import_does_not_pull_pkg_resources() -> None:
    code = "import sys; from zhiku.segment import import_jieba; import_jieba(); print('pkg_resources' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def _corpus(path: Path, limit: int) -> list[str]:
    with path.open(encoding="utf-8") as f:
        return [json.loads(line)["text"] for line in islice(f, limit)]


@pytest.mark.skipif(not (DATASETS / "rgb").is_dir(), reason=f"RGB dataset not found under {DATASETS}")
def test_same_terms_as_stock_jieba_on_real_text(stock: Any, tmp_path: Path) -> None:
    """Thousands of real sentences (RGB's Chinese news passages, SciFact abstracts): identical terms."""
    reference = Analyzer()
    reference.__dict__["_jieba"] = stock
    analyzer = Analyzer(tmp_path)
    texts = _corpus(DATASETS / "rgb" / "retrieval_zh" / "corpus.jsonl", 800)
    if (DATASETS / "scifact").is_dir():
        texts += _corpus(DATASETS / "scifact" / "corpus.jsonl", 200)
    sentences = [s for text in texts for s in split_sentences(text)]
    assert len(sentences) > 3000
    for sentence in sentences:
        assert analyzer.terms(sentence) == reference.terms(sentence), sentence
