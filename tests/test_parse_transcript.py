"""WebVTT and SRT transcripts: cues, time ranges, speakers (voice tags and labels), merging into turns,
tag cleanup, encodings and malformed timestamps."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import check_spans
from zhiku import App
from zhiku.chunk import Chunker
from zhiku.errors import ParseError
from zhiku.parse import ParserRegistry
from zhiku.parse.transcript import MAX_TURN_CHARS, parse_timestamp

VTT = """WEBVTT - Weekly sync

NOTE recorded by the meeting tool

STYLE
::cue { color: white }

1
00:00:01.000 --> 00:00:04.500 align:start position:10%
<v Alice Chen>Good morning, let's start with the budget.

2
00:00:04.600 --> 00:00:07.000
<v Alice Chen>We have <b>two</b> items today.

3
00:00:07.200 --> 00:00:10.000
<v.loud Bob>I'll take the first one &amp; the second.

00:00:10.000 --> 00:00:12.250
<v Bob>Travel costs are down 8%.</v>

01:02:03.000 --> 01:02:05.500
<v Alice Chen><c.yellow>Thanks</c>, <00:01:02.500>Bob.
"""


def test_vtt_voices_turns_and_times(registry: ParserRegistry, tmp_path: Path) -> None:
    path = tmp_path / "sync.vtt"
    path.write_text(VTT, encoding="utf-8")
    doc = registry.parse(path)
    check_spans(doc)
    assert doc.title == "Weekly sync"
    assert doc.metadata["transcript"] is True and doc.metadata["cues"] == 5
    assert doc.metadata["speakers"] == ["Alice Chen", "Bob"]
    got = [(b.locator.speaker, b.locator.time_start, b.locator.time_end, b.text) for b in doc.blocks]
    assert got == [
        ("Alice Chen", 1.0, 7.0, "Alice Chen: Good morning, let's start with the budget. We have two items today."),
        ("Bob", 7.2, 12.25, "Bob: I'll take the first one & the second. Travel costs are down 8%."),
        ("Alice Chen", 3723.0, 3725.5, "Alice Chen: Thanks, Bob."),
    ]
    assert doc.blocks[2].locator.describe() == "01:02:03–01:02:05 · Alice Chen"
    assert "NOTE" not in doc.text and "::cue" not in doc.text


SRT = """1
00:00:01,000 --> 00:00:03,000
主持人：欢迎大家参加本周例会。

2
00:00:03,200 --> 00:00:06,000
今天主要讨论第三季度预算。

3
00:00:06,500 --> 00:00:09,000
【张伟】我先汇报一下差旅费用，
比上季度下降了百分之八。

4
00:00:09,100 --> 00:00:11,000
他说：这个数字还需要核实。

5
00:00:12,000 --> 00:00:14,000
Speaker 2: <i>Sounds good</i> to me.
"""


@pytest.mark.parametrize("encoding", ["utf-8", "gbk", "utf-16"])
def test_srt_labels_chinese_and_encodings(registry: ParserRegistry, tmp_path: Path, encoding: str) -> None:
    path = tmp_path / "例会.srt"
    path.write_bytes(SRT.replace("\n", "\r\n").encode(encoding))
    doc = registry.parse(path)
    check_spans(doc)
    got = [(b.locator.speaker, b.locator.time_start, b.locator.time_end, b.text) for b in doc.blocks]
    assert got == [
        ("主持人", 1.0, 6.0, "主持人: 欢迎大家参加本周例会。今天主要讨论第三季度预算。"),
        # "他说：" is speech inside the turn, not a new speaker label.
        (
            "张伟",
            6.5,
            11.0,
            "张伟: 我先汇报一下差旅费用，比上季度下降了百分之八。他说：这个数字还需要核实。",
        ),
        ("Speaker 2", 12.0, 14.0, "Speaker 2: Sounds good to me."),
    ]
    assert doc.title == "例会"


def test_unlabelled_subtitles_merge_by_length_and_pause(registry: ParserRegistry, tmp_path: Path) -> None:
    cues = []
    t = 0.0
    for i in range(1, 61):
        cues.append(f"{i}\n{_ts(t)} --> {_ts(t + 2)}\nThis is subtitle line number {i} of the lecture.\n")
        t += 2.5 if i != 30 else 20.0  # a long pause after cue 30
    path = tmp_path / "lecture.srt"
    path.write_text("\n".join(cues), encoding="utf-8")
    doc = registry.parse(path)
    assert all(b.locator.speaker is None for b in doc.blocks)
    assert all(len(b.text) <= MAX_TURN_CHARS + 60 for b in doc.blocks)
    # The pause starts a new block exactly at cue 31.
    assert any(b.text.startswith("This is subtitle line number 31 ") for b in doc.blocks)
    starts = [b.locator.time_start for b in doc.blocks]
    assert starts == sorted(starts) and starts[0] == 0.0
    # Chunks keep the time range of what they hold.
    chunks = Chunker(max_tokens=80, overlap=10).chunk(doc)
    assert chunks[0].locator.time_start == 0.0
    assert all(c.locator.time_end is not None and c.locator.time_end > c.locator.time_start for c in chunks)


def _ts(seconds: float) -> str:
    ms = round(seconds * 1000)
    return f"{ms // 3600000:02d}:{ms // 60000 % 60:02d}:{ms // 1000 % 60:02d},{ms % 1000:03d}"


def test_rollup_captions_lose_repeated_lines(registry: ParserRegistry, tmp_path: Path) -> None:
    path = tmp_path / "auto.vtt"
    path.write_text(
        "WEBVTT\n\n00:00:00.000 --> 00:00:02.000\nwelcome to the course\n\n"
        "00:00:02.000 --> 00:00:04.000\nwelcome to the course\ntoday we cover indexing\n\n"
        "00:00:04.000 --> 00:00:06.000\ntoday we cover indexing\nand retrieval\n",
        encoding="utf-8",
    )
    doc = registry.parse(path)
    assert doc.text == "welcome to the course today we cover indexing and retrieval"
    assert (doc.blocks[0].locator.time_start, doc.blocks[0].locator.time_end) == (0.0, 6.0)


def test_srt_font_tags_positions_and_stray_blank_line(registry: ParserRegistry, tmp_path: Path) -> None:
    path = tmp_path / "film.srt"
    path.write_text(
        '1\n00:00:01,000 --> 00:00:02,000\n{\\an8}<font color="#ffff00">Look up!</font>\n\n'
        "2\n00:00:02,500 --> 00:00:04,000\nThe sky is\n\nfalling.\n",
        encoding="utf-8",
    )
    doc = registry.parse(path)
    assert doc.text == "Look up! The sky is falling."


@pytest.mark.parametrize(
    ("body", "line", "needle"),
    [
        ("1\n00:00:01,000 --> 00:00:0x,000\nHello\n", 2, "00:00:0x,000"),
        ("1\n00:00:01,000 --> 00:00:02,000\nHi\n\n2\n00:61:00,000 --> 00:62:00,000\nBad minutes\n", 6, "00:61:00,000"),
        ("1\n00:00:05,000 --> 00:00:02,000\nBackwards\n", 2, "before it starts"),
        ("1\n00:00:05,000 -->\nNo end\n", 2, "no end time"),
    ],
)
def test_malformed_timestamps_name_the_line(
    registry: ParserRegistry, tmp_path: Path, body: str, line: int, needle: str
) -> None:
    path = tmp_path / "bad.srt"
    path.write_text(body, encoding="utf-8")
    with pytest.raises(ParseError) as info:
        registry.parse(path)
    message = str(info.value)
    assert message.startswith("bad.srt: malformed SRT: ")
    assert f"line {line}:" in message and needle in message


def test_vtt_without_header_or_cues(registry: ParserRegistry, tmp_path: Path) -> None:
    no_header = tmp_path / "a.vtt"
    no_header.write_text("00:00:01.000 --> 00:00:02.000\nHello\n", encoding="utf-8")
    with pytest.raises(ParseError, match=r"a\.vtt: not a WebVTT file"):
        registry.parse(no_header)
    no_cues = tmp_path / "b.srt"
    no_cues.write_text("just a note\nwith no timings\n", encoding="utf-8")
    with pytest.raises(ParseError, match=r"b\.srt: no SRT cues found"):
        registry.parse(no_cues)


def test_truncated_transcripts(registry: ParserRegistry, tmp_path: Path) -> None:
    data = VTT.encode("utf-8")
    cut_timing = tmp_path / "cut.vtt"
    cut_timing.write_bytes(data[: data.index(b"00:00:10.000 --> 00:00:12.250") + 17])  # no end time left
    with pytest.raises(ParseError, match=r"cut\.vtt: malformed WebVTT: line 20: cue timing has no end time"):
        registry.parse(cut_timing)
    # Cut inside a cue's text: every complete cue before the cut is kept.
    cut_text = tmp_path / "partial.vtt"
    cut_text.write_bytes(data[: data.index(b"Travel costs") + 6])
    doc = registry.parse(cut_text)
    assert doc.blocks[-1].text == "Bob: I'll take the first one & the second. Travel"


def test_parse_timestamp_forms() -> None:
    assert parse_timestamp("01:02:03.450", 1) == 3723.45
    assert parse_timestamp("02:03,5", 1) == 123.5
    assert parse_timestamp("100:00:00.000", 1) == 360000.0
    assert parse_timestamp("0:00:07", 1) == 7.0


STANDUP = """WEBVTT

00:00:01.000 --> 00:00:05.000
<v Alice>Good morning everyone, let's start the weekly standup.

00:00:05.500 --> 00:00:12.000
<v Bob>The payment service migration finished on Tuesday, two days late because of the database upgrade.

00:00:12.500 --> 00:00:20.000
<v Alice>Thanks Bob. Carol, what's the status of the mobile release?

00:00:20.500 --> 00:00:30.000
<v Carol>Version 3.2 ships next Monday; the login bug is fixed and QA signed off yesterday.
"""


def test_a_citation_points_at_the_moment_and_speaker_it_quotes(app: App, tmp_path: Path) -> None:
    # The whole stand-up is one chunk (00:00:01-00:00:30, three speakers); the answer quotes Carol,
    # so its citation says 00:00:20-00:00:30 and Carol, through the store and back.
    path = tmp_path / "standup.vtt"
    path.write_text(STANDUP, encoding="utf-8")
    app.ensure_kb("k")
    assert app.add("k", [path]).count("added") == 1
    (hit,) = app.search("k", "payment migration").hits
    assert (hit.locator.time_start, hit.locator.time_end) == (1.0, 30.0)
    assert [part[4] for part in hit.locator.parts] == ["Alice", "Bob", "Alice", "Carol"]
    answer = app.ask("k", "Why was the payment migration late?")
    assert answer.text.startswith("Bob: The payment service migration finished on Tuesday")
    (citation,) = answer.citations
    assert citation.locator.speaker == "Bob" and (citation.locator.time_start, citation.locator.time_end) == (5.5, 12.0)
    assert citation.to_dict()["where"] == "00:00:05–00:00:12 · Bob"
    assert hit.locator.describe() == "00:00:01–00:00:30 · Alice, Bob, Carol"  # the chunk itself
