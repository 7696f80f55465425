"""The package's layering, checked statically on the source with ``ast``.

A module may import only from strictly lower layers. Layer 0 imports nothing from the package;
the only same-layer imports allowed are listed in ``SAME_LAYER``.
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

import pytest

PACKAGE = "mscqa"
SRC = Path(__file__).resolve().parents[1] / "src" / PACKAGE

LAYERS: dict[int, set[str]] = {
    0: {"__init__", "errors", "types", "config", "fileio", "memo"},
    1: {
        "loaders",
        "chunker",
        "embedder",
        "fusion",
        "lexical",
        "vocabulary",
        "spelling",
        "conversation",
        "formats",
        "_extract_worker",
        # the worker's parsers, one module a format, over shared text helpers (stdlib only)
        "extract_text",
        "extract_html",
        "extract_pdf",
        "pdf_layout",
        "extract_docx",
        # added after the layering was written: pure text rules used by answerer, stdlib only
        "answertype",
        # the torch-free query encoder (onnxruntime + tokenizers); torch only in export_onnx
        "onnx_embedder",
    },
    2: {"store", "embedcache"},
    3: {"retriever", "answerer"},
    # encoders: the build's passage encoder and the ONNX export it checks (split from indexing;
    # it reads Settings, so it sits with the other modules that do)
    4: {"indexing", "encoders", "service", "jobs", "uploads", "forms"},
    5: {
        "api",
        "web",
        "schemas",
        "middleware",
        "evaluation",
        "admin",
        # HTTP hardening beside middleware: body caps, rate limits, Prometheus, offline /docs
        "limits",
        "ratelimit",
        "metrics",
        "apidocs",
    },
    6: {"app"},
    7: {"cli"},
}
LAYER = {module: layer for layer, modules in LAYERS.items() for module in modules}

# (importer, imported) pairs allowed inside one layer. api/web -> schemas is explicitly allowed
# by the edge rule below (the HTTP layer serialises with its own schemas).
# formats -> _extract_worker: the worker is the subprocess half of the formats module; the
# worker and its per-format parsers share extract_text (reasons, sizes, text assembly).
SAME_LAYER = {
    ("loaders", "formats"),
    ("formats", "_extract_worker"),
    ("formats", "extract_text"),
    ("_extract_worker", "extract_text"),
    ("_extract_worker", "extract_html"),
    ("_extract_worker", "extract_pdf"),
    ("_extract_worker", "extract_docx"),
    ("extract_html", "extract_text"),
    ("extract_pdf", "extract_text"),
    ("extract_pdf", "pdf_layout"),
    ("pdf_layout", "extract_text"),
    ("extract_docx", "extract_text"),
    ("api", "schemas"),
    ("web", "schemas"),
    # admin records finished builds in the app's metrics.
    ("admin", "metrics"),
    # jobs runs the write path (indexing) for the read path (service) in a worker thread.
    ("jobs", "indexing"),
    ("jobs", "service"),
    # indexing builds with the encoder encoders chooses.
    ("indexing", "encoders"),
    # forms parses the multipart stream into the staged file uploads owns.
    ("forms", "uploads"),
}
EDGE_ALLOWED = {"service", "schemas", "errors", "types", "indexing"}
CONFIG_IMPORTERS_MIN_LAYER = 4
ENV_EXEMPT = {"embedder"}
HF_OFFLINE_VARS = {"HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"}


def modules() -> list[str]:
    return sorted(p.stem for p in SRC.glob("*.py"))


@cache
def tree(module: str) -> ast.Module:
    path = SRC / f"{module}.py"
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


@cache
def imports(module: str) -> tuple[tuple[str, int], ...]:
    """Intra-package modules ``module`` imports, anywhere in the file, with line numbers."""
    found: list[tuple[str, int]] = []
    for node in ast.walk(tree(module)):
        if isinstance(node, ast.ImportFrom):
            if node.level == 1 or (node.level == 0 and node.module == PACKAGE):
                base = node.module if node.level == 1 else None
            elif node.level == 0 and node.module and node.module.startswith(f"{PACKAGE}."):
                base = node.module[len(PACKAGE) + 1 :]
            else:
                assert node.level == 0, f"{module}.py:{node.lineno}: unexpected relative import"
                continue
            if base:
                found.append((base.split(".")[0], node.lineno))
            else:  # "from . import x": x is a module, or a name defined in __init__
                for alias in node.names:
                    name = alias.name if (SRC / f"{alias.name}.py").is_file() else "__init__"
                    found.append((name, node.lineno))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == PACKAGE:
                    found.append(("__init__", node.lineno))
                elif alias.name.startswith(f"{PACKAGE}."):
                    found.append((alias.name.split(".")[1], node.lineno))
    return tuple(found)


# --- the scanner itself ------------------------------------------------------------------------


def test_scanner_sees_all_import_forms(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = (
        "import os\nfrom .errors import X\nfrom mscqa.types import Y\nimport mscqa.store\n"
        "from . import api, __version__\nfrom mscqa import chunker\n"
        "def f():\n    from .indexing import build_index\n"
    )
    (tmp_path / "probe.py").write_text(source)
    for name in ("api", "chunker"):
        (tmp_path / f"{name}.py").write_text("")
    monkeypatch.setattr(f"{__name__}.SRC", tmp_path)
    imports.cache_clear()
    tree.cache_clear()
    try:
        assert sorted(imports("probe")) == [
            ("__init__", 5),
            ("api", 5),
            ("chunker", 6),
            ("errors", 2),
            ("indexing", 8),
            ("store", 4),
            ("types", 3),
        ]
    finally:
        imports.cache_clear()
        tree.cache_clear()


def test_every_module_has_a_layer() -> None:
    unassigned = sorted(set(modules()) - set(LAYER))
    assert not unassigned, f"give these modules a layer in {Path(__file__).name}: {unassigned}"
    assert len(LAYER) == sum(len(m) for m in LAYERS.values()), "a module is in two layers"


# --- layering ------------------------------------------------------------------------------------


def layering_violations(module: str) -> list[str]:
    out: list[str] = []
    mine = LAYER[module]
    for target, line in imports(module):
        where = f"{module}.py:{line} imports {target}"
        if target not in LAYER:
            out.append(f"{where}, which is not a module with a layer")
        elif mine == 0:
            out.append(f"{where}: layer 0 modules import nothing from the package")
        elif LAYER[target] > mine:
            out.append(f"{where} (layer {LAYER[target]} > {mine})")
        elif LAYER[target] == mine and (module, target) not in SAME_LAYER:
            out.append(f"{where}: same layer {mine}")
    return out


@pytest.mark.parametrize("module", [m for m in modules() if m in LAYER])
def test_imports_only_from_lower_layers(module: str) -> None:
    assert layering_violations(module) == []


def test_layer_checker_catches_upward_imports(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = {
        "store": (("indexing", 12), ("lexical", 3)),
        "errors": (("types", 1),),
        "fusion": (("lexical", 2),),
        "loaders": (("formats", 5),),
    }
    monkeypatch.setattr(f"{__name__}.imports", lambda m: fake[m])
    assert layering_violations("store") == ["store.py:12 imports indexing (layer 4 > 2)"]
    assert len(layering_violations("errors")) == 1
    assert layering_violations("fusion") == ["fusion.py:2 imports lexical: same layer 1"]
    assert layering_violations("loaders") == []


# --- special rules -------------------------------------------------------------------------------


def test_only_upper_layers_import_config() -> None:
    offenders = [
        f"{m}.py:{line}"
        for m in modules()
        if m in LAYER and LAYER[m] < CONFIG_IMPORTERS_MIN_LAYER and m != "config"
        for target, line in imports(m)
        if target == "config"
    ]
    assert offenders == []


@pytest.mark.parametrize("module", ["api", "web"])
def test_http_edge_imports_only_the_service_facade(module: str) -> None:
    bad = [
        f"{module}.py:{line} imports {t}" for t, line in imports(module) if t not in EDGE_ALLOWED
    ]
    assert bad == []


def test_cli_is_the_top() -> None:
    assert LAYER["cli"] == max(LAYER.values())
    assert all(LAYER[t] < LAYER["cli"] for t, _ in imports("cli") if t in LAYER)


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
        assert uses == [], f"{module}.py reads the environment; settings come from Settings"


def test_environment_scanner() -> None:
    assert is_offline_default("os.environ.setdefault('HF_HUB_OFFLINE', '1')")
    assert not is_offline_default("os.environ.get('HF_HUB_OFFLINE')")
    assert not is_offline_default("os.environ.setdefault('MSCQA_MODEL', 'x')")
    assert [expr for _, expr in environment_reads("embedder")] == [
        "os.environ.setdefault('HF_HUB_OFFLINE', '1')",
        "os.environ.setdefault('TRANSFORMERS_OFFLINE', '1')",
    ]
