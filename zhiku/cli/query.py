"""``zhiku search`` and ``zhiku ask``."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Callable

import click

from ..prompts import RELATED_HEADINGS
from ..retrieve import MODES, describe_hits
from ..text import snippet
from ..types import Answer
from .common import kb_option, kb_or_default, open_app

mode_option = click.option(
    "--mode", type=click.Choice(MODES), default="hybrid", show_default=True, help="Which retrieval lists to use."
)


@click.command()
@kb_option
@click.argument("query")
@mode_option
@click.option("--top-k", "-k", type=int, default=None, help="Number of hits (default 8).")
@click.option("--path", "path_glob", default=None, help="Only documents whose path matches this glob.")
@click.option("--explain", is_flag=True, help="Show each hit's rank and score in every list.")
@click.option(
    "--rerank/--no-rerank",
    default=None,
    help="Rerank the top hits with the configured reranker (ZHIKU_RERANKER). Default: when one is configured.",
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def search(
    ctx: click.Context,
    kb_name: str | None,
    query: str,
    mode: str,
    top_k: int | None,
    path_glob: str | None,
    explain: bool,
    rerank: bool | None,
    as_json: bool,
) -> None:
    """Search a knowledge base (keyword + vector, fused; reranked when a reranker is configured)."""
    with open_app(ctx) as app:
        kb = kb_or_default(app, kb_name)
        result = app.search(kb, query, mode=mode, top_k=top_k, path_glob=path_glob, rerank=rerank)  # type: ignore[arg-type]
        if as_json:
            hits = [{**h.to_dict(), "snippet": snippet(h.text, query, app.analyzer, width=300)} for h in result.hits]
            payload = {"mode": result.mode, "notes": result.notes, "hits": hits}
            click.echo(json.dumps(payload, ensure_ascii=False, indent=2))
            return
        for note in result.notes:
            click.secho(f"note: {note}", fg="yellow", err=True)
        if not result.hits:
            click.echo("no results")
        explained = describe_hits(result.hits)
        for i, hit in enumerate(result.hits):
            where = hit.locator.describe()
            click.secho(f"[{i + 1}] {hit.path}" + (f"  ({where})" if where else ""), bold=True)
            if explain:
                click.secho("    " + explained[i], fg="cyan")
            shown = snippet(hit.text, query, app.analyzer, width=300)
            click.echo(textwrap.indent(textwrap.shorten(shown, 300, placeholder=" …"), "    "))


@click.command()
@kb_option
@click.argument("question")
@mode_option
@click.option("--path", "path_glob", default=None, help="Only documents whose path matches this glob.")
@click.option("--no-stream", is_flag=True, help="Print the answer at once instead of as it is generated.")
@click.option("--json", "as_json", is_flag=True, help="Print the whole answer as JSON (citations, checks, usage).")
@click.pass_context
def ask(
    ctx: click.Context,
    kb_name: str | None,
    question: str,
    mode: str,
    path_glob: str | None,
    no_stream: bool,
    as_json: bool,
) -> None:
    """Answer QUESTION from a knowledge base, with citations.

    Without an LLM configured the answer is extractive (the best supporting sentences, cited). Set
    ZHIKU_LLM_BASE_URL and ZHIKU_LLM_MODEL (and ZHIKU_LLM_API_KEY) to use any OpenAI-compatible model.
    When the knowledge base does not hold the answer, zhiku says so and no model is called.
    """
    with open_app(ctx) as app:
        name = kb_or_default(app, kb_name)
        answer: Answer | None = None
        if as_json or no_stream:
            answer = app.ask(name, question, mode=mode, path_glob=path_glob)  # type: ignore[arg-type]
            if as_json:
                click.echo(json.dumps(answer.to_dict(), ensure_ascii=False, indent=2))
                return
            click.echo(answer.text)
        else:
            for event in app.ask_stream(name, question, mode=mode, path_glob=path_glob):  # type: ignore[arg-type]
                if event.kind == "delta":
                    click.echo(event.text, nl=False)
                elif event.answer is not None:
                    answer = event.answer
            click.echo()
        assert answer is not None
        print_sources(answer, app.answerer.in_script)


def _as_written(question: str, text: str) -> str:
    return text


def print_sources(answer: Answer, in_script: Callable[[str, str], str] = _as_written) -> None:
    """The source list under an answer, then the verification summary; under a refusal, the nearest
    passages (dim: they do not answer it), headed in the question's script (``Answerer.in_script``)."""
    if answer.refused:
        if answer.related:
            click.echo()
            heading = RELATED_HEADINGS.get(answer.language, RELATED_HEADINGS["en"])
            click.secho(in_script(answer.question, heading), dim=True)
            for c in answer.related:
                where = c.locator.describe()
                click.secho(f"  {c.path}" + (f" · {where}" if where else ""), dim=True)
        return
    click.echo()
    for c in answer.citations:
        where = c.locator.describe()
        click.secho(f"[{c.n}] {c.path}" + (f" · {where}" if where else ""), bold=True)
        click.echo("    " + textwrap.shorten(c.snippet, 160, placeholder=" …"))
    weak = [s for s in answer.sentences if not s.supported]
    line = f"grounding {answer.grounding:.2f}, evidence {answer.evidence:.2f}, mode {answer.mode}"
    if answer.usage.calls:
        line += f", tokens in/out {answer.usage.input_tokens}/{answer.usage.output_tokens}"
    click.secho(line, fg="green" if not weak else "yellow")
    for s in weak:
        click.secho(f"  unsupported: {s.text}", fg="yellow")
    for note in answer.notes:
        click.secho(note, dim=True)
