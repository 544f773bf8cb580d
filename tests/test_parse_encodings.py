"""Text encodings are detected from the bytes: UTF-8/16 (with and without BOM), GBK/GB18030 for
Simplified Chinese, Big5 for Traditional Chinese, short texts included, other languages not misread."""

from __future__ import annotations

import codecs
import os
from pathlib import Path

import pytest

from zhiku.errors import ParseError
from zhiku.parse import ParserRegistry
from zhiku.parse.base import decode_text

SIMPLIFIED = (
    "第一条 为规范公司员工休假管理，保障员工合法权益，根据国家有关法律法规，制定本办法。\n\n"
    "第二条 员工入职满一年后，每年享有十天带薪年假；年假须提前五个工作日在系统中申请。"
)
TRADITIONAL = (
    "第一條 為規範公司員工休假管理，保障員工合法權益，根據國家有關法律法規，制定本辦法。\n\n"
    "第二條 員工到職滿一年後，每年享有十天特別休假；特休須提前五個工作天於系統中申請。"
)
# Characters outside GBK: CJK Extension A and B, which only GB18030 (four-byte sequences) encodes.
GB18030_ONLY = "㐀㐁为扩展A区汉字，𠀀为扩展B区汉字，另有欧元符号€。"


@pytest.mark.parametrize(
    ("text", "encoding", "bom"),
    [
        (SIMPLIFIED, "gbk", b""),
        (SIMPLIFIED, "gb2312", b""),
        (SIMPLIFIED, "gb18030", b""),
        (GB18030_ONLY, "gb18030", b""),
        (TRADITIONAL, "big5", b""),
        (TRADITIONAL, "utf-8", b""),
        (SIMPLIFIED, "utf-8", codecs.BOM_UTF8),
        (SIMPLIFIED, "utf-16-le", b""),
        (SIMPLIFIED, "utf-16-be", b""),
        (TRADITIONAL, "utf-16-le", codecs.BOM_UTF16_LE),
        (TRADITIONAL, "utf-16-be", codecs.BOM_UTF16_BE),
    ],
    ids=lambda v: v if isinstance(v, str) and len(v) < 12 else None,
)
def test_chinese_text_files(registry: ParserRegistry, tmp_path: Path, text: str, encoding: str, bom: bytes) -> None:
    path = tmp_path / "规定.txt"
    path.write_bytes(bom + text.encode(encoding))
    doc = registry.parse(path)
    assert doc.text == text
    assert [b.text for b in doc.blocks] == text.split("\n\n")
    assert "\ufeff" not in doc.text


@pytest.mark.parametrize(
    ("text", "encoding"),
    [
        ("年假申请", "gbk"),  # came back as Big5 "爛樑扠③" before re-scoring
        ("年假申請", "gbk"),  # came back as UTF-16 Hangul
        ("年假申請", "big5"),
        ("年假申请", "utf-16-le"),  # no NUL bytes at all: came back as Cyrillic
        ("年假申請", "utf-16-be"),
        ("年假\n", "gbk"),
        ("价格：100元", "gbk"),
        ("價格：100元", "big5"),
        ("会议纪要（草稿）", "gb18030"),
        ("停車場今日關閉。", "big5"),  # came back as Korean "갚Ŧ놓ㅅㅹ츙낚좧" (formats trial)
    ],
)
def test_short_chinese_texts(text: str, encoding: str) -> None:
    assert decode_text(text.encode(encoding))[0] == text


@pytest.mark.parametrize(
    ("text", "encoding"),
    [
        ("日本語のテキストです。これは文字コード判定のテストです。東京都に住んでいます。", "shift_jis"),
        ("日本語のテキストです。これは文字コード判定のテストです。東京都に住んでいます。", "euc_jp"),
        ("한국어 텍스트입니다. 이것은 문자 인코딩 감지 테스트입니다. 서울에 살고 있습니다.", "euc_kr"),
        ("Это русский текст для проверки определения кодировки файла.", "cp1251"),
    ],
)
def test_other_languages_are_not_read_as_chinese(text: str, encoding: str) -> None:
    assert decode_text(text.encode(encoding))[0] == text


def test_encodings_across_text_formats(registry: ParserRegistry, tmp_path: Path) -> None:
    md = tmp_path / "手冊.md"
    md.write_bytes("# 員工手冊\n\n## 特休假\n\n到職滿一年者，每年享有十天特休假。\n".encode("big5"))
    doc = registry.parse(md)
    assert [b.text for b in doc.blocks] == ["員工手冊", "特休假", "到職滿一年者，每年享有十天特休假。"]
    assert doc.blocks[-1].locator.heading_path == ["員工手冊", "特休假"]
    csv_path = tmp_path / "名单.csv"
    csv_path.write_bytes("姓名,部门,年假天数\n王伟,研发部,10\n李娜,财务部,15\n".encode("gb18030"))
    assert registry.parse(csv_path).blocks[0].rows == [
        ["姓名", "部门", "年假天数"],
        ["王伟", "研发部", "10"],
        ["李娜", "财务部", "15"],
    ]
    srt = tmp_path / "会议.srt"
    srt.write_bytes(
        codecs.BOM_UTF16_LE + "1\r\n00:00:01,000 --> 00:00:03,000\r\n主持人：开会了。\r\n".encode("utf-16-le")
    )
    block = registry.parse(srt).blocks[0]
    assert (block.locator.speaker, block.text) == ("主持人", "主持人: 开会了。")


def test_random_high_bytes_are_binary(tmp_path: Path, registry: ParserRegistry) -> None:
    path = tmp_path / "noise.txt"
    path.write_bytes(bytes(b | 0x80 for b in os.urandom(4000)))
    with pytest.raises(ParseError, match=r"noise\.txt: .*binary"):
        registry.parse(path)


def test_large_gbk_file_decodes_quickly(tmp_path: Path) -> None:
    import time

    data = (SIMPLIFIED * 5000).encode("gbk")  # ~1 MB
    start = time.perf_counter()
    text, encoding = decode_text(data)
    assert text == SIMPLIFIED * 5000 and encoding == "gb18030"
    assert time.perf_counter() - start < 5.0
