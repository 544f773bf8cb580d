"""Parse workers stay lean: jieba only for Chinese text, a compact dictionary, plain settings."""

from __future__ import annotations

import pickle
import subprocess
import sys
import time
from pathlib import Path

from zhiku.settings import Settings
from zhiku.worker import ParseOutcome, ParsePool, ParseTask, WorkerConfig

ENGLISH = "# Leave policy\n\nNew hires get ten days of annual leave. Requests go through the HR system.\n"
CHINESE = "# 年假制度\n\n入职满一年的员工每年享有十天带薪年假，需提前两周在人事系统中提交申请。\n"


def _peak_mb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) // 1024
    raise AssertionError("no VmHWM")


def _parse(pool: ParsePool, job_id: int, path: Path) -> ParseOutcome:
    pool.submit(ParseTask(job_id, str(path), str(path)))
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        outcomes = pool.poll(0.5)
        if outcomes:
            return outcomes[0]
    raise AssertionError("the worker did not answer")


def test_worker_config_unpickles_without_heavy_imports(tmp_path: Path) -> None:
    """What a worker receives first (its config, with the settings) loads no pydantic or numpy."""
    settings = Settings(home=tmp_path, ocr_dpi=150)
    config = WorkerConfig(settings, 10**7, 300, 40)
    code = (
        "import pickle, sys; c = pickle.load(sys.stdin.buffer); "
        "print(c.settings.ocr_dpi, c.settings.cache_dir == c.settings.home / 'cache', "
        "'pydantic' in sys.modules, 'numpy' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], input=pickle.dumps(config), capture_output=True, check=True)
    assert out.stdout.decode().split() == ["150", "True", "False", "False"]


def test_jieba_loads_on_the_first_chinese_file_only(tmp_path: Path) -> None:
    """An English file leaves jieba unloaded (no dictionary cache written); a Chinese one loads the
    compact dictionary, which costs the worker far less than jieba's own dict (~85 MB)."""
    settings = Settings(home=tmp_path / "home")
    english, chinese = tmp_path / "en.md", tmp_path / "zh.md"
    english.write_text(ENGLISH, encoding="utf-8")
    chinese.write_text(CHINESE, encoding="utf-8")
    pool = ParsePool(WorkerConfig(settings, 10**7, 300, 40), workers=1, timeout_s=120)
    try:
        outcome = _parse(pool, 1, english)
        assert outcome.status == "parsed" and outcome.docs[0].terms and "leav" in outcome.docs[0].terms[0]
        assert not list(settings.cache_dir.glob("jieba*"))  # jieba was never initialised
        pid = pool.pids()[0]
        english_peak = _peak_mb(pid)
        outcome = _parse(pool, 2, chinese)
        assert outcome.status == "parsed" and outcome.docs[0].terms and "员工" in outcome.docs[0].terms[0]
        assert [p.name.startswith("jieba-compact-") for p in settings.cache_dir.iterdir()] == [True]
        assert pool.pids() == [pid]
        # jieba's code and HMM tables plus the compact dictionary (and its one-time build): ~20 MB.
        assert _peak_mb(pid) - english_peak < 40
    finally:
        pool.close()


def test_loading_jieba_is_not_counted_in_the_file_time_limit(tmp_path: Path) -> None:
    """The first Chinese file in a fresh cache folder builds the dictionary cache (seconds); the
    worker announces it, so a short per-file limit does not fail that file."""
    settings = Settings(home=tmp_path / "home")
    chinese = tmp_path / "zh.md"
    chinese.write_text(CHINESE, encoding="utf-8")
    pool = ParsePool(WorkerConfig(settings, 10**7, 300, 40), workers=1, timeout_s=1.0)
    try:
        outcome = _parse(pool, 1, chinese)
        assert outcome.status == "parsed", outcome.reason
        assert "员工" in outcome.docs[0].terms[0]
    finally:
        pool.close()
