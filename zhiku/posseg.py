"""jieba's part-of-speech tagger (``jieba.posseg``) in a fraction of the memory, with identical output.

Stock ``jieba.posseg`` costs ~97 MB in a process: importing it executes four modules of table
literals (the HMM for unknown words: ~51 MB of dicts, tuples and floats, for 89k emission entries)
and every ``POSTokenizer`` reads ``dict.txt`` into a 350k-entry word -> tag dict (~47 MB).

Here:

- the word tags come from the compact dictionary (``zhiku.segment.Tags``: one byte per key of the
  ``CompactFreq`` the ``LeanTokenizer`` already holds);
- ``import_posseg`` imports ``jieba.posseg`` with its four table modules stood in for by mappings
  that load jieba's own pickles of the same tables (the files jieba itself reads on Jython) on first
  use, so the stock ``POSTokenizer`` still works, lazily;
- ``LeanPOSTokenizer`` runs posseg's Viterbi over a compact copy of those tables (states as small
  ints numbered in the sorted order of jieba's ``(position, tag)`` tuples, so ties break the same
  way), built from the pickles one at a time on the first unknown word.

Everything else (splitting, the DAG walk, when the HMM runs, the ``pair`` objects) is jieba's own
code: ``LeanPOSTokenizer`` subclasses ``jieba.posseg.POSTokenizer`` and overrides only
``load_word_tag`` and the private HMM step.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import os
import pickle
import subprocess
import sys
import tempfile
import types
from array import array
from bisect import bisect_left
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from .segment import CompactFreq, Tags, _digest, _little, import_jieba

_TABLES = ("char_state_tab", "prob_start", "prob_trans", "prob_emit")
MIN_FLOAT = -3.14e100  # jieba.posseg.viterbi's score of an emission the table lacks
MIN_INF = float("-inf")  # ... and of a transition it lacks
FORMAT = 1  # bump when the HMM cache file layout changes
_BUILD_CHILD = "import sys; from pathlib import Path; from zhiku.posseg import HMM; HMM.build().save(Path(sys.argv[1]))"


def _source_id() -> dict[str, Any]:
    """What a cached model was built from: the format and jieba's four pickles."""
    files = {name: _table_path(name).stat() for name in _TABLES}
    return {"format": FORMAT, "tables": {name: [st.st_size, st.st_mtime_ns] for name, st in files.items()}}


def _table_path(name: str) -> Path:
    return Path(import_jieba().__file__).parent / "posseg" / f"{name}.p"


def _load_table(name: str) -> Any:
    # jieba's own data files, shipped with the installed package (not user input).
    with _table_path(name).open("rb") as f:
        return pickle.load(f)


class _LazyTable(Mapping[Any, Any]):
    """One of posseg's tables, read from jieba's pickle of it on first use (stock ``viterbi`` reads
    it through ``get``, ``[]`` and ``keys``)."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._data: dict[Any, Any] | None = None

    @property
    def data(self) -> dict[Any, Any]:
        if self._data is None:
            self._data = _load_table(self._name)
        return self._data

    def __getitem__(self, key: Any) -> Any:
        return self.data[key]

    def get(self, key: Any, default: Any = None) -> Any:
        return self.data.get(key, default)

    def keys(self) -> Any:
        return self.data.keys()

    def __iter__(self) -> Iterator[Any]:
        return iter(self.data)

    def __len__(self) -> int:
        return len(self.data)


class _LazyWordTags(Mapping[str, str]):
    """Stands in for the word tag table of ``jieba.posseg.dt`` (the global tagger the import builds):
    on first use it has ``dt`` read the table as jieba would have at import, and delegates to it."""

    def __init__(self, owner: Any) -> None:
        self._owner = owner

    def _real(self) -> Any:
        if self._owner.word_tag_tab is self:
            self._owner.load_word_tag(self._owner.tokenizer.get_dict_file())
        return self._owner.word_tag_tab

    def __getitem__(self, word: str) -> str:
        return str(self._real()[word])

    def get(self, word: str, default: Any = None) -> Any:
        return self._real().get(word, default)

    def update(self, other: Any) -> None:
        self._real().update(other)

    def __iter__(self) -> Iterator[str]:
        return iter(self._real())

    def __len__(self) -> int:
        return len(self._real())


def import_posseg() -> Any:
    """``import jieba.posseg`` without its import-time costs (~90 MB): its four table modules are stood
    in for by lazily loaded mappings of jieba's pickles of the same tables, and the global tagger it
    builds (``dt``) reads its word tag table on first use instead of at import. When
    ``jieba.posseg`` is imported already, it is returned as it is."""
    jieba = import_jieba()
    if "jieba.posseg" in sys.modules:
        return sys.modules["jieba.posseg"]
    for name in _TABLES:
        full = f"jieba.posseg.{name}"
        if full not in sys.modules:
            module = types.ModuleType(full, f"jieba.posseg's {name}, loaded on first use by zhiku.posseg")
            module.P = _LazyTable(name)  # type: ignore[attr-defined]
            sys.modules[full] = module
    # ``dt = POSTokenizer(jieba.dt)`` at import reads dict.txt into a dict (~40 MB): give it an empty
    # file for that moment, then the lazy table.
    jieba.dt.get_dict_file = io.BytesIO
    try:
        posseg = importlib.import_module("jieba.posseg")
    finally:
        del jieba.dt.get_dict_file
    posseg.dt.word_tag_tab = _LazyWordTags(posseg.dt)
    return posseg


class HMM:
    """posseg's unknown-word model in flat arrays (~1 MB instead of ~51 MB); ``viterbi`` gives the
    state path stock ``jieba.posseg.viterbi.viterbi`` gives, as state ids.

    Built once from jieba's pickles into a cache file (``load_or_build``), then read back from it:
    the pickles' objects (~21 MB while loaded) never meet a process that finds the cache.
    """

    def __init__(
        self,
        names: list[tuple[str, str]],
        start: list[float],
        trans: list[dict[int, float]],
        char_states: dict[str, list[int]],
        emit: tuple[array[int], array[int], array[int], array[float]],
    ) -> None:
        self.names = names  # id -> (B/M/E/S, tag); ids numbered in the tuples' sorted order
        self.start = start
        self.trans = trans
        self.all = tuple(range(len(names)))  # stock: trans_p.keys()
        small = len(names) <= 256  # ids fit in a byte (jieba has exactly 256 states)
        self.char_states: dict[str, Any] = {c: bytes(v) if small else tuple(v) for c, v in char_states.items()}
        # Per character with emissions (sorted code points): its states and log-probabilities.
        self.codes, self.offsets, self.emit_ids, self.emit_probs = emit

    @classmethod
    def build(cls) -> HMM:
        """The model from jieba's pickles, one at a time (the transient peak is the largest one)."""
        trans_p = _load_table("prob_trans")
        names: list[tuple[str, str]] = sorted(trans_p)
        ids = {state: i for i, state in enumerate(names)}
        trans = [{ids[y]: p for y, p in trans_p[x].items()} for x in names]
        del trans_p
        start_p = _load_table("prob_start")
        start = [start_p[x] for x in names]
        del start_p
        char_state = _load_table("char_state_tab")
        char_states = {c: [ids[s] for s in states] for c, states in char_state.items()}
        del char_state
        emit_p = _load_table("prob_emit")
        by_char: dict[int, list[tuple[int, float]]] = {}
        for state, table in emit_p.items():
            for c, p in table.items():
                by_char.setdefault(ord(c), []).append((ids[state], p))
        del emit_p
        codes, offsets, emit_ids, emit_probs = array("I", sorted(by_char)), array("I", [0]), array("H"), array("d")
        for code in codes:
            for i, p in sorted(by_char[code]):
                emit_ids.append(i)
                emit_probs.append(p)
            offsets.append(len(emit_ids))
        return cls(names, start, trans, char_states, (codes, offsets, emit_ids, emit_probs))

    def save(self, path: Path) -> None:
        """Write the cache file atomically: a JSON header line (floats round-trip exactly), then the
        emission arrays, little-endian."""
        header = {
            **_source_id(),
            "names": self.names,
            "start": self.start,
            "trans": [sorted(t.items()) for t in self.trans],
            "char_states": {c: list(v) for c, v in self.char_states.items()},
            "codes": len(self.codes),
            "emissions": len(self.emit_ids),
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=path.name, dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(json.dumps(header).encode("ascii") + b"\n")
                for arr in (self.codes, self.offsets, self.emit_ids, self.emit_probs):
                    f.write(_little(arr).tobytes())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    @classmethod
    def load(cls, path: Path) -> HMM | None:
        """The cached model, or None when the file is missing, stale or unreadable."""
        try:
            with path.open("rb") as f:
                header = json.loads(f.readline())
                if any(header.get(k) != v for k, v in _source_id().items()):
                    return None
                n, m = int(header["codes"]), int(header["emissions"])
                arrays = (array("I", bytes(4 * n)), array("I", bytes(4 * (n + 1))), array("H", bytes(2 * m)))
                emit = (*arrays, array("d", bytes(8 * m)))
                for arr in emit:
                    if f.readinto(memoryview(arr).cast("B")) != len(arr) * arr.itemsize:
                        return None
                    if sys.byteorder != "little":
                        arr.byteswap()
                if f.read(1):
                    return None
            names = [(str(pos), str(tag)) for pos, tag in header["names"]]
            trans = [{int(j): float(p) for j, p in t} for t in header["trans"]]
            start = [float(p) for p in header["start"]]
            char_states = {str(c): [int(i) for i in v] for c, v in header["char_states"].items()}
            return cls(names, start, trans, char_states, emit)
        except (OSError, ValueError, KeyError, TypeError):
            return None

    @classmethod
    def load_or_build(cls, folder: Path) -> HMM:
        """The model cached in ``folder``; when there is none, built into it by a child process (the
        pickles' ~21 MB of objects leave ~7 MB of fragmented heap behind in the process that loads
        them: a long-lived server should not keep it), else here (a read-only folder, no child)."""
        path = folder / f"jieba-posseg-hmm-{_digest(str(_table_path('prob_emit').resolve()))}.bin"
        model = cls.load(path)
        if model is None:
            with contextlib.suppress(OSError, subprocess.SubprocessError):
                env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
                subprocess.run(
                    [sys.executable, "-c", _BUILD_CHILD, str(path)],
                    env=env,
                    check=True,
                    capture_output=True,
                    timeout=300,
                )
                model = cls.load(path)
        if model is None:
            model = cls.build()
            with contextlib.suppress(OSError):
                model.save(path)
        return model

    def emissions(self, char: str) -> dict[int, float]:
        """State id -> emission log-probability of ``char`` (absent: jieba's ``MIN_FLOAT``)."""
        code = ord(char)
        i = bisect_left(self.codes, code)
        if i == len(self.codes) or self.codes[i] != code:
            return {}
        lo, hi = self.offsets[i], self.offsets[i + 1]
        return dict(zip(self.emit_ids[lo:hi], self.emit_probs[lo:hi], strict=True))

    def viterbi(self, obs: str) -> list[int]:
        """``jieba.posseg.viterbi.viterbi``'s route for ``obs``: the same sums in the same order, and
        ties broken by the same comparison (ids sort as jieba's state tuples do)."""
        trans, char_states = self.trans, self.char_states
        emit = self.emissions(obs[0])
        first = char_states.get(obs[0])
        v = {y: self.start[y] + emit.get(y, MIN_FLOAT) for y in (self.all if first is None else first)}
        back: list[dict[int, int]] = [dict.fromkeys(v, -1)]
        for t in range(1, len(obs)):
            prev = [x for x in v if trans[x]]
            expect = {y for x in prev for y in trans[x]}
            here = char_states.get(obs[t])
            obs_states = set(self.all if here is None else here) & expect
            if not obs_states:
                obs_states = expect if expect else set(self.all)
            emit = self.emissions(obs[t])
            nv: dict[int, float] = {}
            step: dict[int, int] = {}
            for y in obs_states:
                e = emit.get(y, MIN_FLOAT)
                prob, state = max((v[y0] + trans[y0].get(y, MIN_INF) + e, y0) for y0 in prev)
                nv[y] = prob
                step[y] = state
            v = nv
            back.append(step)
        _, state = max((v[y], y) for y in v)
        route = [0] * len(obs)
        for i in range(len(obs) - 1, -1, -1):
            route[i] = state
            state = back[i][state]
        return route


def pos_tokenizer_class() -> type:
    """``LeanPOSTokenizer``: defined on first use so that importing this module imports no jieba."""
    posseg = import_posseg()
    pair = posseg.pair

    class LeanPOSTokenizer(posseg.POSTokenizer):  # type: ignore[name-defined]
        """``jieba.posseg.POSTokenizer`` whose word tags are the ``LeanTokenizer``'s compact ones and
        whose HMM is ``HMM`` (any other tokenizer: jieba's own word tag table)."""

        tokenizer: Any
        word_tag_tab: Any
        _hmm: HMM | None = None

        def load_word_tag(self, f: Any) -> None:
            tok = self.tokenizer
            if getattr(tok, "lean", False):
                tok.check_initialized()
                freq = tok.FREQ
                if isinstance(freq, CompactFreq) and freq.tags is not None:
                    with contextlib.suppress(OSError):  # the cache file gone: jieba's own table
                        # A view of its own (``update`` adds to it alone, as to stock's own dict).
                        tags = Tags(freq.tags.ids, freq.tags.names, freq.tags.long_ids)
                        tags.freq = freq
                        self.word_tag_tab = tags
                        f.close()
                        return
            super().load_word_tag(f)

        def _POSTokenizer__cut(self, sentence: str) -> Iterator[Any]:  # posseg's private __cut
            """posseg's HMM step (``POSTokenizer.__cut``) over ``HMM``; the rest is jieba's code."""
            if self._hmm is None:
                self._hmm = HMM.load_or_build(Path(self.tokenizer.tmp_dir or tempfile.gettempdir()))
            names = self._hmm.names
            route = self._hmm.viterbi(sentence)
            begin, nexti = 0, 0
            for i, char in enumerate(sentence):
                pos, tag = names[route[i]]
                if pos == "B":
                    begin = i
                elif pos == "E":
                    yield pair(sentence[begin : i + 1], tag)
                    nexti = i + 1
                elif pos == "S":
                    yield pair(char, tag)
                    nexti = i + 1
            if nexti < len(sentence):
                yield pair(sentence[nexti:], names[route[nexti]][1])

    return LeanPOSTokenizer
