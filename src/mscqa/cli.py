"""``mscqa index | ask | serve | mcp | eval``: a thin command line over indexing and the service."""

from __future__ import annotations

import argparse
import json
import logging
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mscqa.config import Settings
from mscqa.errors import MscqaError, NoIndexError

log = logging.getLogger("mscqa")


def _progress_bar() -> Any:
    from tqdm import tqdm

    bars: dict[str, Any] = {}

    def progress(stage: str, done: int, total: int) -> None:
        if stage != "embed":
            return
        bar = bars.get(stage)
        if bar is None:
            bar = bars[stage] = tqdm(total=total, desc="Embedding", unit="text", file=sys.stderr)
        bar.update(done - bar.n)
        if done >= total:
            bar.close()

    return progress


def cmd_index(settings: Settings, args: argparse.Namespace) -> int:
    from mscqa.indexing import build_index, rollback

    if args.rollback:
        version = rollback(settings)
        _out(args, {"version": version}, f"Serving the previous index snapshot {version}")
        return 0
    report = build_index(settings, progress=None if args.json else _progress_bar())
    summary = {
        "version": report.version,
        "documents": report.documents,
        "chunks": report.chunks,
        "embedded": report.embedded,
        "reused": report.reused,
        "seconds": round(report.seconds, 2),
        "skipped": [{"file": s.file, "reason": s.reason} for s in report.skipped],
    }
    skipped = "".join(f"\n  skipped {s.file}: {s.reason}" for s in report.skipped)
    _out(
        args,
        summary,
        f"Indexed {report.documents} documents into {report.chunks} passages "
        f"({report.embedded} embedded, {report.reused} reused) in {report.seconds:.1f}s "
        f"-> {report.version}{skipped}",
    )
    return 0


def cmd_ask(settings: Settings, args: argparse.Namespace) -> int:
    from mscqa.server.schemas import AskResponse
    from mscqa.service import QAService

    service = QAService(settings)
    service.load()
    answer = service.ask(args.question, args.top_k)
    if args.json:
        sys.stdout.write(AskResponse.of(answer).model_dump_json(indent=2) + "\n")
        return 0
    lines = [answer.text, ""]
    for c in answer.citations:
        where = f" — {c.chunk.section}" if c.chunk.section else ""
        page = f", p. {c.chunk.page}" if c.chunk.page else ""
        lines.append(f"[{c.n}] {c.chunk.title}{where}{page} ({c.chunk.chunk_id})")
    if not answer.answered and answer.related:
        lines.append("Closest passages (not an answer):")
        lines.extend(f"  - {c.chunk.chunk_id}: {c.chunk.text[:120]}..." for c in answer.related)
    sys.stdout.write("\n".join(lines).rstrip() + "\n")
    return 0


def cmd_serve(settings: Settings, args: argparse.Namespace) -> int:
    from mscqa.index.backends import open_store
    from mscqa.indexing import build_index
    from mscqa.server.app import create_app
    from mscqa.server.serve import run, uvicorn_config

    store = open_store(settings)
    try:
        empty = store.current_version() is None
    finally:
        store.close()
    if empty:
        log.info("No index in %s yet; building it from %s", store.where(), settings.corpus_dir)
        build_index(settings, progress=_progress_bar(), wait_for_lock=True)
    # the app names itself by the address it serves on (links in answers, MSCQA_PUBLIC_URL unset)
    settings = settings.model_copy(
        update={"host": args.host or settings.host, "port": args.port or settings.port}
    )
    config = uvicorn_config(create_app(settings), settings)
    log.info("Serving the chat on http://%s:%d", config.host, config.port)
    run(config, settings)
    return 0


def cmd_mcp(settings: Settings, args: argparse.Namespace) -> int:
    """The MCP tools on stdin/stdout, for desktop clients that start `mscqa mcp` themselves.

    The index loads in the background (a tool called meanwhile says so) and newer snapshots
    are picked up as `mscqa serve` does; logs go to stderr, stdout is the protocol's.
    """
    import anyio

    from mscqa.server.app import watching_index
    from mscqa.server.mcp import build_server
    from mscqa.service import QAService

    service = QAService(settings)
    server = build_server(service, settings, base_url=settings.public_url or None)
    log.info("MCP server on stdio, answering from %s", settings.index_dir)
    try:
        with watching_index(service, settings.reload_interval):
            anyio.run(server.run_stdio_async)
    finally:
        service.close()
    return 0


def cmd_eval(settings: Settings, args: argparse.Namespace) -> int:
    from mscqa.evaluation import evaluate_files, question_files
    from mscqa.service import QAService

    paths = question_files(args.questions, args.split)
    if not paths:
        raise MscqaError(
            f"no {args.split} question files (*.jsonl) in {', '.join(map(str, args.questions))}"
        )
    service = QAService(settings)
    service.load()
    result = evaluate_files(service, paths)
    splits = result["splits"]
    if args.json:
        out: dict[str, Any] = {"splits": splits}
        if args.rows:
            out["rows"] = result["rows"]
        sys.stdout.write(json.dumps(out, indent=2) + "\n")
        return 0
    columns = {name: part["metrics"] for name, part in splits.items()}
    if args.by_file:
        columns = {
            name: m for part in splits.values() for name, m in part["files"].items()
        } | columns
    sys.stdout.write(_columns(columns))
    if args.by_kind:
        for split, part in splits.items():
            sys.stdout.write(f"\n{split}, by kind:\n")
            sys.stdout.write(_columns(part["by_kind"], KIND_METRICS))
    return 0


# The figures a per-kind table shows (the full set is in --json).
KIND_METRICS = (
    "questions",
    "citation_hit@3",
    "answer_contains_gold",
    "false_abstention",
    "abstention_recall",
)


def _columns(columns: dict[str, dict[str, Any]], keys: Sequence[str] | None = None) -> str:
    """Metrics as rows, one column per group (a split, a file or a kind)."""
    names = list(columns)
    keys = keys or list(next(iter(columns.values())))
    cells = [[_cell(columns[n].get(k)) for n in names] for k in keys]
    widths = [max(len(n), *(len(row[i]) for row in cells)) for i, n in enumerate(names)]
    label = max(len(k) for k in keys)
    lines = [" " * label + "".join(f"  {n:>{w}}" for n, w in zip(names, widths, strict=True))]
    for key, row in zip(keys, cells, strict=True):
        lines.append(
            f"{key:<{label}}" + "".join(f"  {c:>{w}}" for c, w in zip(row, widths, strict=True))
        )
    return "\n".join(lines) + "\n"


def _cell(value: Any) -> str:
    return "-" if value is None else str(value)


def _out(args: argparse.Namespace, data: dict[str, Any], line: str) -> None:
    sys.stdout.write((json.dumps(data) if args.json else line) + "\n")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mscqa", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("index", help="build or rebuild the index from the corpus folder")
    p.add_argument("--rollback", action="store_true", help="serve the previous snapshot again")
    p.add_argument("--json", action="store_true", help="print a JSON summary")
    p.set_defaults(func=cmd_index)
    p = sub.add_parser("ask", help="answer one question from the index")
    p.add_argument("question")
    p.add_argument("--top-k", type=int, default=None, help="passages to consider (1-20)")
    p.add_argument("--json", action="store_true", help="print the /ask JSON response")
    p.set_defaults(func=cmd_ask)
    p = sub.add_parser("serve", help="serve the web chat and the HTTP API")
    p.add_argument("--host", default=None)
    p.add_argument("--port", type=int, default=None)
    p.set_defaults(func=cmd_serve)
    p = sub.add_parser("mcp", help="serve the MCP tools (ask, search, list_documents) on stdio")
    p.set_defaults(func=cmd_mcp)
    p = sub.add_parser(
        "eval",
        help="measure retrieval and answers on question files (JSONL; <set>.test.jsonl and "
        "<set>.test<N>.jsonl are the test split, every other file dev)",
    )
    p.add_argument("questions", type=Path, nargs="+", help="question files or folders of them")
    p.add_argument(
        "--split", choices=("dev", "test", "all"), default="all", help="which files to run"
    )
    p.add_argument("--by-kind", action="store_true", help="also a table per question kind")
    p.add_argument("--by-file", action="store_true", help="also a column per question file")
    p.add_argument("--json", action="store_true", help="print metrics as JSON")
    p.add_argument("--rows", action="store_true", help="with --json, include per-question rows")
    p.set_defaults(func=cmd_eval)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        # a deprecated setting still works; say so where the user sees it (Python hides
        # DeprecationWarning outside __main__)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", DeprecationWarning)
            settings = Settings()
    except Exception as exc:  # pydantic's message names the variable
        sys.stderr.write(f"Error: invalid configuration: {exc}\n")
        return 1
    for warning in caught:
        sys.stderr.write(f"Warning: {warning.message}\n")
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    for noisy in ("faiss.loader", "bm25s", "sentence_transformers", "httpx"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        top_k = getattr(args, "top_k", None)
        if top_k is not None and not 1 <= top_k <= 20:
            raise MscqaError("--top-k must be between 1 and 20")
        return int(args.func(settings, args))
    except NoIndexError as exc:
        sys.stderr.write(f"Error: {exc}\n")
        return 1
    except MscqaError as exc:
        sys.stderr.write(f"Error: {exc}\n")
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
