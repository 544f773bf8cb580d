"""Wall time, memory and CPU of one system's processes, read from /proc (Linux, stdlib only).

A ``Session`` runs a system's commands one after another while a sampler thread sums the resident
memory of every process that belongs to the run: the harness's descendants, plus any process whose
environment carries the run's marker variable (so a worker that detaches from its parent is still
counted). Peak RSS is the highest such sum; the kernel's exact ``ru_maxrss`` of each waited-for
command (largest single process) is kept too, and the reported peak is the larger of the two.
PSS (shared pages split between the processes sharing them) is sampled as well, because summing
RSS over forked workers counts their shared pages more than once.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PAGE = os.sysconf("SC_PAGE_SIZE")
MARKER_VAR = "ZHIKU_BENCH_RUN"


TICK = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> tuple[int, int, int] | None:
    """(ppid, start time, CPU ticks used so far) of a process, or None when it is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return None
    fields = raw[raw.rindex(b")") + 2 :].split()  # the command name may contain spaces
    return int(fields[1]), int(fields[19]), int(fields[11]) + int(fields[12])


def _rss_bytes(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE
    except (OSError, IndexError, ValueError):
        return 0


def _pss_bytes(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return 0


def _cmdline(pid: int) -> str:
    try:
        parts = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return "?"
    words = [p.decode(errors="replace") for p in parts if p]
    return " ".join(os.path.basename(w) if i == 0 else w for i, w in enumerate(words[:4]))[:80]


def mb(n: float) -> float:
    return round(n / 2**20, 1)


class Sampler(threading.Thread):
    """Samples the run's processes every ``interval`` seconds until stopped."""

    def __init__(self, marker: str, interval: float) -> None:
        super().__init__(daemon=True)
        self.marker = f"{MARKER_VAR}={marker}".encode()
        self.interval = interval
        self.me = os.getpid()
        self.stop_event = threading.Event()
        self.peak_rss = 0
        self.peak_pss = 0
        self.samples = 0
        self.per_process: dict[str, int] = {}  # command line -> its own peak RSS
        self._marked: dict[tuple[int, int], bool] = {}
        self._ticks: dict[tuple[int, int], int] = {}  # CPU ticks last seen per member process

    def members(self) -> list[int]:
        """Processes of this run alive now (never the harness itself)."""
        parents: dict[int, int] = {}
        keys: dict[int, tuple[int, int]] = {}
        ticks: dict[int, int] = {}
        found: list[int] = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            pid = int(entry)
            st = _stat(pid)
            if st is None:
                continue
            parents[pid] = st[0]
            key = keys[pid] = (pid, st[1])
            ticks[pid] = st[2]
            if key not in self._marked:
                try:
                    self._marked[key] = self.marker in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
                except OSError:
                    self._marked[key] = False
            if self._marked[key] and pid != self.me:
                found.append(pid)
        for pid in parents:  # descendants of the harness (its threads are not processes)
            p, hops = pid, 0
            while p > 1 and hops < 64:
                p = parents.get(p, 0)
                hops += 1
                if p == self.me:
                    if pid not in found:
                        found.append(pid)
                    break
        for pid in found:
            self._ticks[keys[pid]] = ticks[pid]
        return found

    @property
    def cpu_s(self) -> float:
        """CPU seconds of every member process as last sampled (misses at most one interval each)."""
        return sum(self._ticks.values()) / TICK

    def sample(self) -> list[int]:
        pids = self.members()
        total_rss = total_pss = 0
        for pid in pids:
            rss = _rss_bytes(pid)
            total_rss += rss
            total_pss += _pss_bytes(pid)
            name = _cmdline(pid)
            self.per_process[name] = max(self.per_process.get(name, 0), rss)
        self.peak_rss = max(self.peak_rss, total_rss)
        self.peak_pss = max(self.peak_pss, total_pss)
        self.samples += 1
        return pids

    def run(self) -> None:
        while not self.stop_event.is_set():
            self.sample()
            self.stop_event.wait(self.interval)


@dataclass
class Step:
    command: list[str]
    wall_s: float
    exit_code: int
    max_rss_mb: float
    cpu_s: float


@dataclass
class Session:
    """One system's run: commands in sequence under one sampler; ``result()`` gives the numbers."""

    marker: str
    interval: float = 0.2
    logs: Path = Path(".")
    steps: list[Step] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.sampler = Sampler(self.marker, self.interval)
        self.t0 = 0.0
        self.t_end = 0.0

    def __enter__(self) -> Session:
        self.sampler.start()
        self.t0 = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        if not self.t_end:
            self.t_end = time.perf_counter()
        self.sampler.stop_event.set()
        self.sampler.join()
        self.kill_leftovers()

    def run(self, name: str, cmd: Sequence[str], env: Mapping[str, str], cwd: Path) -> Step:
        """Run ``cmd`` to completion; a non-zero exit raises with the end of its log."""
        log = self.logs / f"{name}.log"
        t0 = time.perf_counter()
        with log.open("wb") as out:
            proc = subprocess.Popen(list(cmd), env=dict(env), cwd=cwd, stdout=out, stderr=subprocess.STDOUT)
            _, status, usage = os.wait4(proc.pid, 0)  # the kernel's rusage of exactly this command's tree
        proc.returncode = os.waitstatus_to_exitcode(status)
        step = Step(
            list(cmd),
            round(time.perf_counter() - t0, 3),
            proc.returncode,
            mb(usage.ru_maxrss * 1024),
            round(usage.ru_utime + usage.ru_stime, 2),
        )
        self.steps.append(step)
        if proc.returncode != 0:
            tail = log.read_text(errors="replace")[-3000:]
            raise RuntimeError(f"{name} failed (exit {proc.returncode}): {' '.join(cmd)}\n{tail}")
        return step

    def wait_until(self, done: Callable[[], bool], *, stall_s: float, progress: Callable[[], Any]) -> None:
        """After the commands: wait for work the run left to background processes (``done()``),
        failing when nothing of the run is alive or ``progress()`` has not changed for ``stall_s``."""
        last, last_change = progress(), time.perf_counter()
        while not done():
            time.sleep(0.25)
            now = progress()
            if now != last:
                last, last_change = now, time.perf_counter()
            elif time.perf_counter() - last_change > stall_s:
                alive = self.sampler.members()
                raise RuntimeError(f"no progress for {stall_s:.0f}s ({now}); run processes alive: {alive}")
        self.t_end = time.perf_counter()

    def kill_leftovers(self) -> None:
        """Terminate processes of this run still alive (identified by our marker, so only ours)."""
        for sig in (signal.SIGTERM, signal.SIGKILL):
            pids = self.sampler.members()
            if not pids:
                return
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, sig)
            time.sleep(3)

    def result(self) -> dict[str, Any]:
        wall = (self.t_end or time.perf_counter()) - self.t0
        max_process = max((s.max_rss_mb for s in self.steps), default=0.0)
        top = sorted(self.sampler.per_process.items(), key=lambda kv: -kv[1])[:5]
        return {
            "wall_s": round(wall, 2),
            "peak_rss_mb": max(mb(self.sampler.peak_rss), max_process),
            "peak_rss_tree_sampled_mb": mb(self.sampler.peak_rss),
            "peak_pss_tree_sampled_mb": mb(self.sampler.peak_pss),
            "max_single_process_rss_mb": max_process,
            # waited-for commands: the kernel's exact count; detached processes: sampled from /proc
            "cpu_s": round(max(sum(s.cpu_s for s in self.steps), self.sampler.cpu_s), 2),
            "samples": self.sampler.samples,
            "processes_peak_rss_mb": {name: mb(v) for name, v in top},
            "steps": [s.__dict__ for s in self.steps],
        }
