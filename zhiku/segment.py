"""jieba with a compact dictionary: the same segmentation in a fraction of the memory.

jieba keeps its dictionary as a Python dict of ~500k ``str -> int`` entries (every word and every
prefix of a word), ~85 MB in each process that segments Chinese. ``CompactFreq`` holds the same
mapping in flat arrays (~8 MB): a word of at most four characters of the Basic Multilingual Plane
(97% of the keys) is packed exactly into one 64-bit integer, 16 bits per character with the first
character in the high bits, so the keys sharing a first character are one sorted run that a C-level
bisect searches; the few longer keys stay in a small dict. Packing is exact (no hashing), so a
lookup can never answer for a different word.

The arrays are built once from jieba's ``dict.txt`` into a cache file and read back with
``readinto`` (no intermediate objects). The build walks the dictionary one first character at a
time, so it never holds jieba's full dict either.

``LeanTokenizer`` is ``jieba.Tokenizer`` with that dictionary: its ``cut``/``cut_for_search`` code is
jieba's own; ``get_DAG`` and ``calc`` are overridden only to look each candidate word up once (jieba
asks the dict up to three times), with results identical to jieba's (tests compare them).

The cache file also carries each key's part-of-speech tag (dict.txt's third column) as one byte:
``Tags``, jieba.posseg's word -> tag table for ``zhiku.posseg``, read from the file on first use.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sys
import tempfile
from array import array
from bisect import bisect_left
from collections.abc import Callable, Iterator
from functools import partial
from math import log
from pathlib import Path
from typing import Any

FORMAT = 2  # bump when the cache file layout or the packing changes
_MAX_PACKED = 4  # characters per packed key: 4 x 16 bits = 64 bits
_SHIFT = 16
_BUCKETS = 1 << 16  # first characters (BMP code points); bucket 0 holds nothing (NUL is never packed)


def packable(word: str) -> bool:
    """Whether ``word`` packs exactly into one 64-bit key (1-4 BMP characters, none NUL)."""
    return 0 < len(word) <= _MAX_PACKED and all(0 < ord(c) <= 0xFFFF for c in word)


def pack(word: str) -> int:
    """The 64-bit key of a ``packable`` word: characters as 16-bit groups, first in the high bits,
    zero-filled on the right (so a word's prefixes sort right before it)."""
    key = 0
    for c in word:
        key = key << _SHIFT | ord(c)
    return key << (_SHIFT * (_MAX_PACKED - len(word)))


class CompactFreq:
    """jieba's ``FREQ`` mapping (word or word prefix -> count, 0 for a prefix that is not a word)
    in flat arrays: supports ``in``, ``[]``, ``get`` and ``len`` like the dict it replaces.

    Assignments (jieba's ``add_word``) go to a small overlay dict consulted first.
    """

    def __init__(
        self, keys: array[int], freqs: array[int], starts: array[int], long: dict[str, int], tags: Tags | None = None
    ) -> None:
        self._keys = keys  # sorted packed keys ('Q')
        self._freqs = freqs  # count of each key ('i')
        self._starts = starts  # _starts[c]: index of the first key whose first character is chr(c)
        self._long = long  # keys that do not pack (longer than 4 characters)
        self._extra: dict[str, int] = {}
        self.tags = tags  # the words' part-of-speech tags (dict.txt's third column), when every line has one
        if tags is not None:
            tags.freq = self

    def _index(self, word: str) -> int:
        """The position of packable ``word`` in the arrays, -1 when it is no key, -2 when it does not pack."""
        n = len(word)
        if 0 < n <= _MAX_PACKED and "\0" not in word:
            raw = word.encode("utf-16-be", "surrogatepass")
            if len(raw) == 2 * n:
                key = int.from_bytes(raw, "big") << (_SHIFT * (_MAX_PACKED - n))
                first = key >> 48
                hi = self._starts[first + 1]
                i = bisect_left(self._keys, key, self._starts[first], hi)
                return i if i < hi and self._keys[i] == key else -1
        return -2

    def get(self, word: str, default: Any = None) -> Any:
        """The count of ``word``, or ``default`` when it is neither a word nor a word's prefix."""
        if self._extra and word in self._extra:
            return self._extra[word]
        return self._lookup(word, default)

    def _lookup(self, word: str, default: Any) -> Any:
        n = len(word)
        if 0 < n <= _MAX_PACKED and "\0" not in word:
            raw = word.encode("utf-16-be", "surrogatepass")
            if len(raw) == 2 * n:  # no character outside the BMP: the key packs
                key = int.from_bytes(raw, "big") << (_SHIFT * (_MAX_PACKED - n))
                first = key >> 48
                hi = self._starts[first + 1]
                i = bisect_left(self._keys, key, self._starts[first], hi)
                if i < hi and self._keys[i] == key:
                    return self._freqs[i]
                return default
        return self._long.get(word, default)

    def __contains__(self, word: object) -> bool:
        return isinstance(word, str) and self.get(word) is not None

    def __getitem__(self, word: str) -> int:
        value = self.get(word)
        if value is None:
            raise KeyError(word)
        return int(value)

    def __setitem__(self, word: str, value: int) -> None:
        self._extra[word] = value

    def __len__(self) -> int:
        return len(self._keys) + len(self._long) + sum(1 for w in self._extra if self._lookup(w, None) is None)


class Tags:
    """jieba.posseg's ``word_tag_tab`` (word -> tag) over a ``CompactFreq``'s keys: one tag id per key
    (0 for a key that is only a prefix), the long keys' ids aligned with the long-key dict. Supports
    ``get``, ``in``, ``[]`` and ``update`` (posseg adds a user dictionary's tags with it) like the dict
    it replaces. Read from the cache file only when first used: processes that only segment (parse
    workers) never pay for it."""

    def __init__(self, ids: array[int] | Callable[[], array[int]], names: list[str], long_ids: bytes) -> None:
        self._ids = ids  # tag id per key ('B'), parallel to the keys, or a reader of them
        self.names = names  # id -> tag; names[0] is unused (no tag)
        self.long_ids = long_ids  # tag id per long key, in the long-key dict's order
        self.freq: CompactFreq | None = None  # set by the CompactFreq these ids belong to
        self._long: dict[str, int] | None = None
        self._extra: dict[str, str] = {}

    @property
    def ids(self) -> array[int]:
        """The tag ids (read on first use; OSError when the cache file is gone)."""
        if callable(self._ids):
            self._ids = self._ids()
        return self._ids

    @property
    def long(self) -> dict[str, int]:
        """Long word -> tag id (built on first use, sharing the long-key dict's strings)."""
        if self._long is None:
            assert self.freq is not None
            self._long = {w: t for w, t in zip(self.freq._long, self.long_ids, strict=True) if t}
        return self._long

    def get(self, word: str, default: Any = None) -> Any:
        """The tag of ``word``, or ``default`` when it is not a dictionary word."""
        if self._extra and word in self._extra:
            return self._extra[word]
        assert self.freq is not None
        i = self.freq._index(word)
        tag = self.ids[i] if i >= 0 else self.long.get(word, 0) if i == -2 else 0
        return self.names[tag] if tag else default

    def __contains__(self, word: object) -> bool:
        return isinstance(word, str) and self.get(word) is not None

    def __getitem__(self, word: str) -> str:
        tag = self.get(word)
        if tag is None:
            raise KeyError(word)
        return str(tag)

    def __setitem__(self, word: str, tag: str) -> None:
        self._extra[word] = tag

    def update(self, other: dict[str, str]) -> None:
        """Add or replace tags (a user dictionary's)."""
        self._extra.update(other)


# -- building and caching -----------------------------------------------------------------------------


def _read_words(path: Path) -> Iterator[tuple[str, int, str | None]]:
    """``(word, count, tag)`` per line, parsed exactly as ``jieba.Tokenizer.gen_pfdict`` does; the tag as
    ``jieba.posseg.POSTokenizer.load_word_tag`` reads it (None when the line is not three fields)."""
    with path.open("rb") as f:
        for lineno, raw in enumerate(f, 1):
            line = raw.strip().decode("utf-8")
            try:
                fields = line.split(" ")
                word, freq = fields[:2]
                yield word, int(freq), fields[2] if len(fields) == 3 else None
            except ValueError:
                raise ValueError(f"invalid dictionary entry in {path} at Line {lineno}: {line}") from None


def _bucket(word: str) -> int:
    o = ord(word[0])
    return o if o <= 0xFFFF else 0


Emit = Callable[["array[int]", "array[int]", "array[int]"], None]  # keys, counts, tag ids


class _Built:
    """What a build returns besides the sorted runs."""

    def __init__(
        self, starts: array[int], long: dict[str, int], total: int, names: list[str] | None, long_tags: dict[str, int]
    ) -> None:
        self.starts, self.long, self.total = starts, long, total
        self.names = names  # tag id -> tag, None when some line has no tag (posseg would reject the file)
        self.long_tags = long_tags


def build(path: Path) -> tuple[CompactFreq, int]:
    """The compact mapping and total count of jieba dictionary file ``path``, in memory."""
    keys, freqs, tag_ids = array("Q"), array("i"), array("B")

    def collect(run_keys: array[int], run_freqs: array[int], run_tags: array[int]) -> None:
        keys.extend(run_keys)
        freqs.extend(run_freqs)
        tag_ids.extend(run_tags)

    built = _build(path, collect)
    long_ids = bytes(built.long_tags.get(word, 0) for word in built.long)
    tags = Tags(tag_ids, built.names, long_ids) if built.names is not None else None
    return CompactFreq(keys, freqs, built.starts, built.long, tags), built.total


def _build(path: Path, emit: Emit) -> _Built:
    """Walk dictionary file ``path`` and ``emit`` its packed keys, counts and tag ids in sorted runs
    (one per first character); return the run starts, the long keys, the total count and the tags.

    Same result as ``gen_pfdict`` (a later line's count wins for a repeated word; a prefix is 0
    unless it is itself a word), computed one first character at a time: a word and all its
    prefixes share their first character, so each bucket is independent. Memory stays near the
    size of the result: words are kept as packed keys (long ones as text), never as one big dict.
    """
    first_keys = array("Q")  # per line: the packed first <=4 characters, or 0 if they do not pack
    lengths = array("H")
    counts = array("i")
    line_tags = array("B")  # per line: its tag id (0: none)
    names: list[str] = [""]
    name_ids: dict[str, int] = {}
    tagged = True
    texts: dict[int, str] = {}  # line index -> word, for the words that do not pack
    per_bucket = array("I", bytes(4 * (_BUCKETS + 1)))
    total = 0
    for i, (word, freq, tag) in enumerate(_read_words(path)):
        total += freq
        counts.append(freq)
        if tag is None or (tag not in name_ids and len(names) > 0xFF):
            tagged = False  # no tag, or more tags than a byte holds: no tag table
            line_tags.append(0)
        else:
            if tag not in name_ids:
                name_ids[tag] = len(names)
                names.append(tag)
            line_tags.append(name_ids[tag])
        lengths.append(min(len(word), 0xFFFF))
        head = word[:_MAX_PACKED]
        if packable(head) and len(word) <= _MAX_PACKED:
            first_keys.append(pack(head))
        else:
            first_keys.append(0)
            texts[i] = word
        per_bucket[_bucket(word) if word else 0] += 1
    # Counting sort of line indices by first character (stable: line order kept inside a bucket).
    starts_in = array("I", bytes(4 * (_BUCKETS + 1)))
    for b in range(_BUCKETS):
        starts_in[b + 1] = starts_in[b] + per_bucket[b]
    cursor = array("I", starts_in)
    order = array("I", bytes(4 * len(counts)))
    for i in range(len(counts)):
        key = first_keys[i]
        b = key >> 48 if key else _bucket(texts[i]) if texts[i] else 0
        order[cursor[b]] = i
        cursor[b] += 1
    del cursor
    starts = array("I", bytes(4 * (_BUCKETS + 1)))
    long: dict[str, int] = {}
    long_tags: dict[str, int] = {}
    emitted = 0
    for b in range(_BUCKETS):
        starts[b] = emitted
        bucket: dict[int, int] = {}
        bucket_tags: dict[int, int] = {}  # a word's tag, like its count, from its last line
        for j in range(starts_in[b], starts_in[b + 1]):
            i = order[j]
            freq = counts[i]
            if first_keys[i]:  # a short word: itself and its prefixes by masking the packed key
                key, n = first_keys[i], lengths[i]
                bucket[key] = freq
                bucket_tags[key] = line_tags[i]
                for m in range(1, n):
                    bucket.setdefault(key & ~((1 << (_SHIFT * (_MAX_PACKED - m))) - 1), 0)
                continue
            word = texts[i]
            _add(word, freq, bucket, long, overwrite=True)
            if packable(word):
                bucket_tags[pack(word)] = line_tags[i]
            else:
                long_tags[word] = line_tags[i]
            for m in range(1, len(word)):
                _add(word[:m], 0, bucket, long, overwrite=False)
        if bucket:
            run = sorted(bucket)
            emit(
                array("Q", run),
                array("i", [bucket[key] for key in run]),
                array("B", [bucket_tags.get(key, 0) for key in run] if tagged else bytes(len(run))),
            )
            emitted += len(run)
    starts[_BUCKETS] = emitted
    long_tags = {word: tag for word, tag in long_tags.items() if tag} if tagged else {}
    return _Built(starts, long, total, names if tagged else None, long_tags)


def _add(word: str, freq: int, bucket: dict[int, int], long: dict[str, int], *, overwrite: bool) -> None:
    if packable(word):
        key = pack(word)
        if overwrite:
            bucket[key] = freq
        else:
            bucket.setdefault(key, 0)
    elif overwrite:
        long[word] = freq
    else:
        long.setdefault(word, 0)


def _source_id(path: Path) -> dict[str, Any]:
    st = path.stat()
    return {"format": FORMAT, "source": str(path.resolve()), "size": st.st_size, "mtime_ns": st.st_mtime_ns}


def save(freq: CompactFreq, total: int, path: Path, source: Path) -> None:
    """Write the cache file of an in-memory mapping atomically."""
    tags = freq.tags
    ids = tags.ids if tags is not None else array("B", bytes(len(freq._keys)))
    long_tags = dict(zip(freq._long, tags.long_ids, strict=True)) if tags else {}
    built = _Built(freq._starts, freq._long, total, tags.names if tags else None, long_tags)
    _write(path, source, [(freq._keys, freq._freqs, ids)], built)


def build_file(source: Path, path: Path) -> None:
    """Build the cache file of dictionary ``source`` without holding the result in memory: the
    sorted runs go to temporary files as they come, then into ``path`` (atomically)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as stack:
        files = [stack.enter_context(tempfile.TemporaryFile(dir=path.parent)) for _ in range(3)]

        def spill(run_keys: array[int], run_freqs: array[int], run_tags: array[int]) -> None:
            for f, run in zip(files, (run_keys, run_freqs, run_tags), strict=True):
                f.write(_little(run).tobytes())

        built = _build(source, spill)
        for f in files:
            f.seek(0)
        _write(path, source, files, built)


def _write(path: Path, source: Path, parts: list[Any], built: _Built) -> None:
    """Header line (ASCII JSON, so any string survives: source identity, total, key count, long keys,
    tag names, long keys' tags), then the keys, the counts, the tag ids and the run starts as
    little-endian arrays. ``parts``: (keys, counts, tag ids) array triples, or the three files."""
    header = {
        **_source_id(source),
        "total": built.total,
        "keys": int(built.starts[_BUCKETS]),
        "long": built.long,
        "tag_names": built.names,
        "long_tags": [built.long_tags.get(word, 0) for word in built.long],  # in the long keys' order
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name, dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(json.dumps(header).encode("ascii") + b"\n")
            if parts and isinstance(parts[0], tuple):
                for column in (0, 1, 2):
                    for triple in parts:
                        f.write(_little(triple[column]).tobytes())
            else:
                for part in parts:
                    shutil.copyfileobj(part, f, 1 << 20)
            f.write(_little(built.starts).tobytes())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load(path: Path, source: Path) -> tuple[CompactFreq, int] | None:
    """The cached mapping, or None when the file is missing, stale or unreadable."""
    try:
        with path.open("rb") as f:
            header = json.loads(f.readline())
            if any(header.get(k) != v for k, v in _source_id(source).items()):
                return None
            n = int(header["keys"])
            keys, freqs, starts = array("Q", [0]) * n, array("i", [0]) * n, array("I", [0]) * (_BUCKETS + 1)
            for arr in (keys, freqs, None, starts):
                if arr is None:  # the tag ids: skipped, read when posseg first asks (``Tags``)
                    ids_at = f.tell()
                    f.seek(n, os.SEEK_CUR)
                    continue
                want = len(arr) * arr.itemsize
                if f.readinto(memoryview(arr).cast("B")) != want:
                    return None
                if sys.byteorder != "little":
                    arr.byteswap()
            if f.read(1):
                return None
        long = {str(k): int(v) for k, v in header["long"].items()}
        names = header["tag_names"]
        tags = None
        if names is not None:
            long_ids = bytes(int(t) for t in header["long_tags"])
            tags = Tags(partial(_read_ids, path, ids_at, n), [str(t) for t in names], long_ids)
        return CompactFreq(keys, freqs, starts, long, tags), int(header["total"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _read_ids(path: Path, offset: int, n: int) -> array[int]:
    """The ``n`` tag ids at ``offset`` of cache file ``path`` (one byte each: no byte order)."""
    ids = array("B", bytes(n))
    with path.open("rb") as f:
        f.seek(offset)
        if f.readinto(memoryview(ids).cast("B")) != n:
            raise OSError(f"{path}: tag ids cut short")
    return ids


def _little(arr: array[Any]) -> array[Any]:
    if sys.byteorder == "little":
        return arr
    swapped = array(arr.typecode, arr)
    swapped.byteswap()
    return swapped


# -- the tokenizer ---------------------------------------------------------------------------------


def import_jieba() -> Any:
    """``import jieba`` without ``pkg_resources``: jieba's ``_compat`` imports it only to open its own
    data files (and falls back to plain ``open`` without it), which costs ~12 MB and ~0.2 s."""
    if "jieba" in sys.modules or "pkg_resources" in sys.modules:
        import jieba

        return jieba
    sys.modules["pkg_resources"] = None  # type: ignore[assignment]  # makes ``import pkg_resources`` fail
    try:
        import jieba
    finally:
        if sys.modules.get("pkg_resources", 0) is None:
            del sys.modules["pkg_resources"]
    return jieba


def tokenizer_class() -> type:
    """``LeanTokenizer``: defined on first use so that importing this module does not import jieba."""
    jieba = import_jieba()

    class LeanTokenizer(jieba.Tokenizer):  # type: ignore[name-defined]
        """``jieba.Tokenizer`` whose dictionary is a ``CompactFreq`` cached under ``tmp_dir``."""

        initialized: bool
        lean = True  # zhiku.posseg reads the word tags from the compact dictionary of such a tokenizer

        def initialize(self, dictionary: str | None = None) -> None:
            if dictionary:
                super().initialize(dictionary)  # a custom dictionary: jieba's own loading
                return
            with self.lock:
                if self.initialized:
                    return
                source = Path(self.dictionary or Path(jieba.__file__).parent / jieba.DEFAULT_DICT_NAME)
                folder = Path(self.tmp_dir or tempfile.gettempdir())
                cache = folder / f"jieba-compact-{_digest(str(source.resolve()))}.bin"
                loaded = load(cache, source)
                if loaded is None:
                    # Built straight into the file, then read back: the build's own memory is
                    # freed before the arrays are allocated (a lower peak in a parse worker).
                    with contextlib.suppress(OSError):
                        build_file(source, cache)
                    loaded = load(cache, source) or build(source)  # a read-only folder: in memory
                self.FREQ, self.total = loaded
                self.initialized = True

        def get_DAG(self, sentence: str) -> dict[int, list[int]]:
            """jieba's DAG (start -> end indices of the dictionary words there), one lookup per
            candidate; the counts found are kept for the ``calc`` that follows."""
            self.check_initialized()
            freq = self.FREQ
            if type(freq) is not CompactFreq or freq._extra:
                return super().get_DAG(sentence)
            dag, counts = _dag(freq, sentence)
            self._memo = (sentence, dag, counts)
            return dag

        def calc(self, sentence: str, DAG: dict[int, list[int]], route: dict[int, tuple[float, int]]) -> None:
            """jieba's best-path step, with the counts ``get_DAG`` just found (same arithmetic, so the
            same floats and the same ties as jieba's)."""
            memo = getattr(self, "_memo", None)
            if memo is None or memo[0] is not sentence or memo[1] is not DAG:
                super().calc(sentence, DAG, route)
                return
            counts = memo[2]
            n = len(sentence)
            route[n] = (0, 0)
            logtotal = log(self.total)
            for idx in range(n - 1, -1, -1):
                ends, found = DAG[idx], counts[idx]
                if len(ends) == 1:  # most positions: the max of one candidate, without max()
                    x = ends[0]
                    route[idx] = (log(found[0]) - logtotal + route[x + 1][0], x)
                else:
                    route[idx] = max((log(f) - logtotal + route[x + 1][0], x) for x, f in zip(ends, found, strict=True))

    return LeanTokenizer


def _digest(text: str) -> str:
    import hashlib

    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def _dag(freq: CompactFreq, sentence: str) -> tuple[dict[int, list[int]], list[list[int]]]:
    """``jieba.Tokenizer.get_DAG`` over a ``CompactFreq``, plus each listed word's count (1 for the
    lone-character fallback, whose count jieba's ``calc`` also turns into 1).

    jieba walks ``sentence[k:i+1]`` for i = k, k+1, ... while the fragment is a key (every prefix of a
    word is one) and lists i when its count is non-zero. Here the fragment's packed key grows by one
    character per step and is searched for after the previous one (a key's extensions sort after
    it); past four characters, or at a character outside the BMP, the walk continues in the
    long-key dict, where the build put exactly those keys.
    """
    keys, freqs, starts, long = freq._keys, freq._freqs, freq._starts, freq._long
    n = len(sentence)
    codes = list(map(ord, sentence))
    dag: dict[int, list[int]] = {}
    counts: list[list[int]] = []
    for k in range(n):
        ends: list[int] = []
        found: list[int] = []
        i = k
        o = codes[k]
        if 0 < o <= 0xFFFF:
            lo, hi = starts[o], starts[o + 1]
            if lo < hi:
                # The lone character sorts first among its keys, and is one if any key starts with it.
                j = lo
                key = o << 48
                shift = 32
                while True:
                    f = freqs[j]
                    if f:
                        ends.append(i)
                        found.append(f)
                    i += 1
                    if i >= n:
                        break
                    c = codes[i]
                    if shift < 0 or c == 0 or c > 0xFFFF:
                        break  # the next fragment does not pack: continue in the long keys
                    key |= c << shift
                    shift -= _SHIFT
                    j = bisect_left(keys, key, j + 1, hi)  # a key's extensions sort after it
                    if j == hi or keys[j] != key:
                        i = n  # the fragment is no key: the walk ends
                        break
            else:
                i = n  # no key starts with this character
        while i < n:
            count = long.get(sentence[k : i + 1])
            if count is None:
                break
            if count:
                ends.append(i)
                found.append(count)
            i += 1
        if not ends:
            ends.append(k)
            found.append(1)
        dag[k] = ends
        counts.append(found)
    return dag, counts
