"""The shape of the code: imports point one way, stages stand alone, functions stay short,
and the torch-free parts load neither torch nor the rendering stack."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "pipeline"
STAGES = {"pipeline.generate", "pipeline.pack", "pipeline.train", "pipeline.evaluate", "pipeline.predict",
          "pipeline.export"}
LONGEST = 80         # lines a function may span in pipeline/


def modules() -> dict[str, Path]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def imports(name: str, path: Path, known: set[str]) -> set[str]:
    """The pipeline modules `name` imports, at the top or inside functions."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name in known}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("pipeline"):
            for alias in node.names:
                full = f"{node.module}.{alias.name}"
                out.add(full if full in known else node.module)
    return {m for m in out if m in known and m != name and m != "pipeline"}


def graph() -> dict[str, set[str]]:
    found = modules()
    return {name: imports(name, path, set(found)) for name, path in found.items()}


def circles_in(edges: dict[str, set[str]]) -> list[str]:
    state: dict[str, str] = {}
    circles: list[str] = []

    def visit(node: str, trail: list[str]) -> None:
        state[node] = "open"
        for nxt in sorted(edges[node]):
            if state.get(nxt) == "open":
                circles.append(" -> ".join(trail[trail.index(nxt):] + [node, nxt]) if nxt in trail else f"{node} -> {nxt}")
            elif nxt not in state:
                visit(nxt, trail + [node])
        state[node] = "done"

    for node in sorted(edges):
        if node not in state:
            visit(node, [])
    return circles


def test_no_import_circles():
    assert circles_in(graph()) == []


def test_the_packages_form_layers():
    """No circle between the packages either (config at the bottom, stages at the top)."""
    def package(module: str) -> str:
        return module.split(".")[1] if "." in module else module

    edges: dict[str, set[str]] = {}
    for module, deps in graph().items():
        edges.setdefault(package(module), set()).update(package(d) for d in deps if package(d) != package(module))
    for deps in list(edges.values()):
        for d in deps:
            edges.setdefault(d, set())
    assert circles_in(edges) == []


def test_every_style_the_options_name_has_a_preset():
    from pipeline.config import STYLES
    from pipeline.synth import styles

    assert tuple(styles._PRESETS) == STYLES


def test_no_stage_imports_another_stage_or_is_imported_by_the_library():
    wrong = [f"{a} imports {b}" for a, deps in graph().items() for b in deps
             if b in STAGES and a != "pipeline.cli"]
    assert wrong == []


def test_no_function_is_longer_than_the_limit():
    long = []
    for name, path in modules().items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                span = node.end_lineno - node.lineno + 1
                if span > LONGEST:
                    long.append(f"{name}.{node.name}: {span} lines")
    assert long == []


def loaded_after(statement: str) -> set[str]:
    """Top-level module names in sys.modules after `statement`, in a fresh interpreter."""
    code = f"import sys, json; {statement}; print(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}})))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=PACKAGE.parent)
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


@pytest.mark.parametrize("statement", [
    "import pipeline.synth.lines, pipeline.synth.render, pipeline.synth.scanned",
    "import pipeline.generate",
    "import pipeline.pack",
    "import pipeline.text.corpus, pipeline.text.codes",
])
def test_generation_and_packing_never_load_torch(statement):
    assert "torch" not in loaded_after(statement)


def test_synth_and_text_load_no_trdg_until_a_line_is_drawn():
    # trdg (and with it cv2) is imported by the first render, not by importing the package
    assert not {"torch", "trdg"} & loaded_after("import pipeline.synth.styles, pipeline.synth.fonts, "
                                                "pipeline.text.corpus")


def test_training_loads_neither_trdg_nor_cv2():
    loaded = loaded_after("import pipeline.train, pipeline.training.loop, pipeline.evaluate, pipeline.predict")
    assert "torch" in loaded and not {"trdg", "cv2"} & loaded


def test_the_documented_preprocessing_path_is_the_one_pack_uses():
    from pipeline.datasets import images
    from pipeline.preprocess import load_line

    assert load_line is images.load_line
