"""zhiku.posseg tags exactly as stock jieba.posseg does, in a fraction of the memory.

The reference runs in a child process that imports ``jieba.posseg`` the stock way (its table modules
executed, its global tagger's dict read at import), so nothing zhiku does to the import can touch it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from itertools import islice
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from zhiku.posseg import HMM, import_posseg, pos_tokenizer_class
from zhiku.segment import Tags, build, build_file, import_jieba, load, save, tokenizer_class
from zhiku.text import split_sentences

DATASETS = Path(os.environ.get("ZHIKU_DATASETS", "/work/shared/datasets"))
ROOT = Path(__file__).resolve().parents[1]

TEXT = """
印控克什米尔地区寺庙踩踏事故死亡人数上升到十二人。据新华社报道，阿卜杜拉说2023年底完成。
中华人民共和国国务院总理在北京人民大会堂举行记者会，回答中外记者提问。
2022年春节档首日票房冠军是《长津湖之水门桥》，iPhone15和AT&T的C++工程师也来看了电影。
小明硕士毕业于中国科学院计算所，后在日本京都大学深造。南京市长江大桥于1968年建成通车。
特朗普和拜登在宾夕法尼亚州的匹兹堡市举行集会，马斯克的星链公司发射了第三十批卫星。
㐀㐁乂乃齉齾龘豈更車 丝绸之路经济带和21世纪海上丝绸之路 的的的了了了 一二三四五六七八九十
截至2023年底，全国累计建成5G基站337.7万个，占移动基站总数的29.1%。\t 空白\r\n换行 abc123 x.y
"""

# Stock jieba.posseg over stock jieba, in a clean process: sentences on stdin, tags on stdout.
_STOCK = """
import json, sys
from zhiku.segment import import_jieba
jieba = import_jieba()
import jieba.posseg
tagger = jieba.posseg.POSTokenizer(jieba.Tokenizer())
sentences = json.load(sys.stdin)
json.dump([[[list(p) for p in tagger.cut(s, HMM=hmm)] for s in sentences] for hmm in (True, False)], sys.stdout)
"""


def _run(code: str, stdin: str = "", env: dict[str, str] | None = None) -> str:
    out = subprocess.run(
        [sys.executable, "-c", code], input=stdin, capture_output=True, text=True, check=True, cwd=ROOT, env=env
    )
    return out.stdout


def _stock_tags(sentences: list[str]) -> list[list[list[list[str]]]]:
    return json.loads(_run(_STOCK, json.dumps(sentences)))  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def lean(tmp_path_factory: pytest.TempPathFactory) -> Any:
    tokenizer = tokenizer_class()()
    tokenizer.tmp_dir = str(tmp_path_factory.mktemp("posseg-cache"))
    tokenizer.initialize()
    return pos_tokenizer_class()(tokenizer)


def _ours(tagger: Any, sentences: list[str]) -> list[list[list[list[str]]]]:
    return [[[list(p) for p in tagger.cut(s, HMM=hmm)] for s in sentences] for hmm in (True, False)]


def test_same_tags_as_stock_on_written_text(lean: Any) -> None:
    sentences = [*split_sentences(TEXT), TEXT, "", "猫", "abc", "我爱北京天安门"]
    expected = _stock_tags(sentences)
    got = _ours(lean, sentences)
    for mode in (0, 1):
        for sentence, ours, theirs in zip(sentences, got[mode], expected[mode], strict=True):
            assert ours == theirs, sentence
    assert type(next(iter(lean.cut("印控克什米尔")))).__module__ == "jieba.posseg"  # jieba's own pair


def _sentences(limit_rgb: int, limit_cmrc: int) -> list[str]:
    sentences: list[str] = []
    rgb = DATASETS / "rgb" / "retrieval_zh" / "corpus.jsonl"
    if rgb.is_file():
        with rgb.open(encoding="utf-8") as f:
            sentences += [s for line in islice(f, limit_rgb) for s in split_sentences(json.loads(line)["text"])]
    cmrc = DATASETS / "cmrc2018" / "cmrc2018_dev_shared.json"
    if cmrc.is_file():
        data = json.loads(cmrc.read_text(encoding="utf-8"))["data"]
        contexts = [p["context"] for d in data[:limit_cmrc] for p in d["paragraphs"]]
        sentences += [s for c in contexts for s in split_sentences(c)]
    return sentences


@pytest.mark.skipif(
    not (DATASETS / "rgb").is_dir() and not (DATASETS / "cmrc2018").is_dir(),
    reason=f"neither RGB nor CMRC 2018 found under {DATASETS}: no real-text comparison",
)
def test_same_tags_as_stock_on_real_text(lean: Any) -> None:
    """Thousands of real sentences (RGB's Chinese news passages, CMRC 2018 paragraphs), with and
    without the HMM: identical (word, tag) lists."""
    sentences = _sentences(800, 150)
    assert len(sentences) > 3000
    expected = _stock_tags(sentences)
    got = _ours(lean, sentences)
    for mode in (0, 1):
        for sentence, ours, theirs in zip(sentences, got[mode], expected[mode], strict=True):
            assert ours == theirs, sentence


def test_every_word_tag_as_stock(lean: Any) -> None:
    jieba = import_jieba()
    reference = SimpleNamespace()
    # posseg's own loader, run on a bare object.
    posseg = import_posseg()
    posseg.POSTokenizer.load_word_tag(reference, jieba.dt.get_dict_file())
    tags = lean.word_tag_tab
    assert isinstance(tags, Tags)
    assert all(tags.get(word) == tag for word, tag in reference.word_tag_tab.items())
    for absent in ("中华人民共和", "zhiku", "", "\U0001f600", "中华人民共和国宪法法"):  # a prefix, unknown words
        assert absent not in reference.word_tag_tab and tags.get(absent, "x") == "x" and absent not in tags


def test_tags_of_an_odd_dictionary_and_its_cache(tmp_path: Path) -> None:
    """Repeated words with different tags (the later line wins), prefixes, long words, characters
    outside the BMP: the same table as posseg's loader, through memory, cache file and streaming build."""
    lines = ["中华 10 n", "中华人民共和国 50 ns", "中 3 zg", "中华 7 nz", "人民大会堂 5 ns", "𠀀字 4 x1"]
    lines += ["字𠀀 2 x2", "A股 3 n", "零 0 m", "一二三四五 1 m", "一二三四五 2 q", "一二三 0 m"]
    source = tmp_path / "dict.txt"
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    reference = SimpleNamespace()
    posseg = import_posseg()
    posseg.POSTokenizer.load_word_tag(reference, source.open("rb"))
    freq, total = build(source)
    save(freq, total, tmp_path / "saved.bin", source)
    build_file(source, tmp_path / "streamed.bin")
    assert (tmp_path / "saved.bin").read_bytes() == (tmp_path / "streamed.bin").read_bytes()
    loaded = load(tmp_path / "saved.bin", source)
    assert loaded is not None
    for compact in (freq, loaded[0]):
        assert compact.tags is not None
        assert all(compact.tags.get(w) == t for w, t in reference.word_tag_tab.items())
        assert compact.tags.get("中华人民") is None and compact.tags.get("一二三四") is None  # prefixes only
    # A tagger over that dictionary reads its tags from the compact one.
    tokenizer = tokenizer_class()(str(source))
    tokenizer.tmp_dir = str(tmp_path / "cache")
    tagger = pos_tokenizer_class()(tokenizer)
    assert isinstance(tagger.word_tag_tab, Tags)
    assert [tuple(p) for p in tagger.cut("中华人民共和国一二三四五")] == [("中华人民共和国", "ns"), ("一二三四五", "q")]
    # Added words and their tags (jieba's add_word) reach the tagger as they do stock's.
    tokenizer.add_word("踩踏事故", 100, "nx")
    assert ("踩踏事故", "nx") in [tuple(p) for p in tagger.cut("寺庙踩踏事故")]


def test_untagged_dictionary_falls_back_to_stock(tmp_path: Path) -> None:
    source = tmp_path / "dict.txt"
    source.write_text("中华 10 n\n人民 5\n", encoding="utf-8")
    freq, _ = build(source)
    assert freq.tags is None
    tokenizer = tokenizer_class()(str(source))
    tokenizer.tmp_dir = str(tmp_path)
    with pytest.raises(ValueError, match="invalid POS dictionary entry"):  # as stock POSTokenizer
        pos_tokenizer_class()(tokenizer)


def test_hmm_cache_round_trip(tmp_path: Path) -> None:
    built = HMM.build()
    cached = HMM.load_or_build(tmp_path)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith("jieba-posseg-hmm-")]
    again = HMM.load_or_build(tmp_path)
    for model in (cached, again):
        assert model.names == built.names and model.start == built.start and model.trans == built.trans
        assert model.char_states == built.char_states
        assert (model.codes, model.offsets, model.emit_ids, model.emit_probs) == (
            built.codes,
            built.offsets,
            built.emit_ids,
            built.emit_probs,
        )
    path = next(tmp_path.glob("jieba-posseg-hmm-*"))
    path.write_bytes(path.read_bytes()[:-8])
    assert HMM.load(path) is None  # damaged: ignored, rebuilt


# In a fresh process: RSS added by a tagger over an initialized LeanTokenizer and its first cuts
# (HMM included), with warm caches; then stock jieba.posseg.lcut in the same process (the lazily
# loaded tables and word tag table of its global tagger) must still tag as stock.
_MEMORY = """
import json, sys
from zhiku.segment import tokenizer_class
from zhiku.posseg import pos_tokenizer_class
def rss():
    with open("/proc/self/status") as f:
        return next(int(l.split()[1]) for l in f if l.startswith("VmRSS")) / 1024
tokenizer = tokenizer_class()()
tokenizer.tmp_dir = sys.argv[1]
tokenizer.initialize()
text = json.loads(sys.stdin.read())
tokenizer.lcut(text)
before = rss()
tagger = pos_tokenizer_class()(tokenizer)
tags = [list(p) for p in tagger.cut(text)]
added = rss() - before
import jieba.posseg
lazy = type(sys.modules["jieba.posseg.prob_emit"].P).__name__
print(json.dumps({"added": added, "tags": tags, "lazy": lazy, "stock": [list(p) for p in jieba.posseg.lcut(text)]}))
"""


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="RSS is read from /proc")
def test_memory_and_stock_posseg_beside_it(tmp_path: Path) -> None:
    code = _MEMORY.replace("sys.argv[1]", repr(str(tmp_path)))
    _run(code, json.dumps(TEXT))  # fills the caches
    result = json.loads(_run(code, json.dumps(TEXT)))
    expected = _stock_tags([TEXT])[0][0]
    assert result["tags"] == expected
    assert result["lazy"] == "_LazyTable"  # jieba.posseg's table modules never ran
    assert result["stock"] == expected  # ... and the stock global tagger still tags as stock
    assert result["added"] < 15, result["added"]  # MB; stock jieba.posseg adds ~97 MB
