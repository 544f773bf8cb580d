"""Meeting transcripts and subtitles: WebVTT (.vtt) and SubRip (.srt).

Each cue's time range and speaker go into its locator (``time_start``/``time_end`` in seconds,
``speaker``). Speakers come from WebVTT voice tags (``<v Name>``) or from labels at the start of a
cue in either format: ``Name: text``, ``Name：text``, ``【Name】text``, ``[Name] text``. A cue without
a label continues the previous speaker's turn (captioning tools label a turn once and split it into
many cues). Consecutive cues of one speaker are merged into one block per turn, up to
``MAX_TURN_CHARS`` characters and as long as the pause between them is short, so a block reads
like a paragraph of the conversation rather than a two-second fragment.

Formatting is removed: voice/class/italic tags, inline karaoke timestamps, ``{\\an8}`` positioning,
HTML entities, and the lines that roll-up captions repeat from the previous cue.
"""

from __future__ import annotations

import html
import itertools
import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import ParseError
from ..types import Block, Locator, ParsedDocument
from .base import decode_text, join_lines, one_line

#: A speaker's turn is cut into several blocks beyond this many characters.
MAX_TURN_CHARS = 600
#: A pause longer than this (seconds) starts a new block even when the speaker does not change.
MAX_TURN_GAP = 5.0

_ARROW = "-->"
_TIMESTAMP = re.compile(r"^(?:(\d{1,3}):)?(\d{1,2}):(\d{1,2})(?:[.,:](\d{1,3}))?$")
_VOICE = re.compile(r"<v(?:\.[^\s>]*)?(?:\s+([^>]*))?>", re.IGNORECASE)
_TAG = re.compile(r"</?[a-zA-Z][^>]*>|<\d[\d:.]*>")  # markup and inline <00:00:01.500> timestamps
_ASS = re.compile(r"\{\\[^}]*\}")
_LATIN_NAME = r"[A-Z][\w.'’-]*(?:[ \t]+[A-Z0-9][\w.'’-]*){0,3}"
_CJK_NAME = r"[\u4e00-\u9fff·]{1,8}(?:[ \t]?\d{1,2})?"
_LABEL = re.compile(
    rf"^(?:>>\s*)?(?:【([^】]{{1,30}})】|\[([^\]]{{1,30}})\]|({_LATIN_NAME}|{_CJK_NAME})[ \t]*[:：])\s*(.*)$",
    re.S,
)
# A Chinese clause such as "他说：" looks like a label; verbs of speech at its end mean it is not one.
_SPEECH_VERB = re.compile(r"(说|道|问|讲|表示|指出|认为|强调|提到)$")


@dataclass
class Cue:
    """One timed piece of text."""

    start: float
    end: float
    text: str
    speaker: str | None
    line: int


def parse_timestamp(value: str, line: int) -> float:
    """``01:02:03.450`` / ``02:03,450`` / ``1:02:03`` -> seconds; ``ParseError`` naming the line."""
    m = _TIMESTAMP.match(value.strip())
    if not m or int(m.group(3)) > 59 or (m.group(1) is not None and int(m.group(2)) > 59):
        raise ParseError(f"line {line}: malformed timestamp {value.strip()!r} (expected HH:MM:SS.mmm)")
    hours, minutes, seconds = int(m.group(1) or 0), int(m.group(2)), int(m.group(3))
    fraction = m.group(4) or "0"
    return round(hours * 3600 + minutes * 60 + seconds + int(fraction) / 10 ** len(fraction), 3)


def _timing(line_text: str, line: int) -> tuple[float, float]:
    left, _, right = line_text.partition(_ARROW)
    start = parse_timestamp(left, line)
    end_field = right.strip().split()
    if not end_field:
        raise ParseError(f"line {line}: cue timing has no end time: {line_text.strip()!r}")
    end = parse_timestamp(end_field[0], line)  # VTT cue settings may follow the end time
    if end < start:
        raise ParseError(f"line {line}: cue ends ({end_field[0]}) before it starts ({left.strip()})")
    return start, end


def clean_text(text: str) -> str:
    """Cue text without markup, positioning codes or entities; lines kept."""
    text = _ASS.sub("", _TAG.sub("", text))
    return "\n".join(one_line(html.unescape(line)) for line in text.splitlines() if one_line(line))


def split_speaker(text: str) -> tuple[str | None, str]:
    """``("Name", rest)`` when the text opens with a speaker label, else ``(None, text)``."""
    m = _LABEL.match(text.strip())
    if not m:
        return None, text
    name = one_line(m.group(1) or m.group(2) or m.group(3) or "")
    if not name or _SPEECH_VERB.search(name) or not m.group(4).strip():
        return None, text
    return name, m.group(4)


def _voices(raw: str) -> list[tuple[str | None, str]]:
    """A cue split at its ``<v Name>`` tags: [(speaker, text)], text before any tag unlabelled."""
    pieces: list[tuple[str | None, str]] = []
    last = 0
    speaker: str | None = None
    for m in _VOICE.finditer(raw):
        if raw[last : m.start()].strip():
            pieces.append((speaker, raw[last : m.start()]))
        speaker = one_line(m.group(1) or "") or None
        last = m.end()
    pieces.append((speaker, raw[last:]))
    return pieces


def read_cues(text: str, *, vtt: bool) -> list[Cue]:
    """Cues in file order. Blocks without a timing line are skipped (WebVTT header, NOTE, STYLE,
    REGION) or, in SRT, appended to the previous cue (a stray blank line inside a cue)."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    cues: list[Cue] = []
    block: list[tuple[int, str]] = []
    for number, line in enumerate([*lines, ""], start=1):
        if line.strip():
            block.append((number, line))
            continue
        if block:
            cues.extend(_block_cues(block, cues, vtt=vtt))
            block = []
    return cues


def _block_cues(block: list[tuple[int, str]], previous: list[Cue], *, vtt: bool) -> list[Cue]:
    timing_at = next((i for i, (_, line) in enumerate(block) if _ARROW in line), None)
    if timing_at is None:
        first = block[0][1].strip()
        if vtt or not previous or first.isdigit() or first.startswith(("NOTE", "STYLE", "REGION", "WEBVTT")):
            return []
        stray = clean_text("\n".join(line for _, line in block))
        previous[-1].text = join_lines(previous[-1].text, one_line(stray))
        return []
    number, timing_line = block[timing_at]
    start, end = _timing(timing_line, number)
    raw = "\n".join(line for _, line in block[timing_at + 1 :])
    cues = []
    for speaker, piece in _voices(raw) if vtt else [(None, raw)]:
        cleaned = clean_text(piece)
        if not cleaned:
            continue
        label, rest = split_speaker(cleaned)
        cues.append(Cue(start, end, rest if label else cleaned, speaker or label, number))
    return cues


def _dedupe_rollup(cues: list[Cue]) -> None:
    """Roll-up captions repeat the previous cue's last line first: drop the repeat."""
    for prev, cue in itertools.pairwise(cues):
        prev_last = prev.text.splitlines()[-1] if prev.text else ""
        lines = cue.text.splitlines()
        if len(lines) > 1 and lines[0] == prev_last:
            cue.text = "\n".join(lines[1:])


def turns(cues: list[Cue]) -> list[Block]:
    """Blocks of consecutive cues by one speaker (unlabelled cues continue the current speaker)."""
    blocks: list[Block] = []
    speaker: str | None = None
    current: list[Cue] = []

    def flush() -> None:
        if not current:
            return
        body = ""
        for cue in current:
            for line in cue.text.splitlines():
                body = join_lines(body, line)
        text = f"{speaker}: {body}" if speaker else body
        locator = Locator(time_start=current[0].start, time_end=current[-1].end, speaker=speaker)
        blocks.append(Block("paragraph", text, locator=locator))
        current.clear()

    for cue in cues:
        who = cue.speaker or speaker
        size = sum(len(c.text) for c in current)
        gap = cue.start - current[-1].end if current else 0.0
        if current and (who != speaker or size + len(cue.text) > MAX_TURN_CHARS or gap > MAX_TURN_GAP):
            flush()
        speaker = who
        current.append(cue)
    flush()
    return blocks


class _TranscriptParser:
    vtt = False
    label = "SRT"

    def parse(self, path: Path) -> ParsedDocument:
        """Parse ``path`` into one block per speaker turn with time ranges and speakers."""
        text, encoding = decode_text(path.read_bytes())
        text = text.lstrip("\ufeff")
        title = path.stem
        if self.vtt:
            first = text.lstrip().split("\n", 1)[0].strip()
            if not first.startswith("WEBVTT"):
                raise ParseError(f"{path.name}: not a WebVTT file: it must start with 'WEBVTT' (found {first[:40]!r})")
            title = one_line(first[len("WEBVTT") :].lstrip(" \t-:")) or title
        try:
            cues = read_cues(text, vtt=self.vtt)
        except ParseError as exc:
            raise ParseError(f"{path.name}: malformed {self.label}: {exc}") from exc
        if not cues:
            raise ParseError(
                f"{path.name}: no {self.label} cues found (expected timing lines like '00:00:01.000 --> 00:00:04.000')"
            )
        _dedupe_rollup(cues)
        blocks = turns(cues)
        speakers = list(dict.fromkeys(b.locator.speaker for b in blocks if b.locator.speaker))
        metadata = {
            "encoding": encoding,
            "transcript": True,
            "cues": len(cues),
            "speakers": speakers,
            "duration": max(c.end for c in cues),
        }
        return ParsedDocument.from_blocks(blocks, title=title, metadata=metadata)


class VttParser(_TranscriptParser):
    """WebVTT captions and meeting transcripts (Teams, Zoom, YouTube export this)."""

    vtt = True
    label = "WebVTT"


class SrtParser(_TranscriptParser):
    """SubRip subtitles."""

    vtt = False
    label = "SRT"
