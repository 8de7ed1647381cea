"""The package's import graph has no cycle: every `import harlax...` / `from harlax...`
statement, at module level or inside a function, is an edge (see docs/architecture.md).
Imports under `if TYPE_CHECKING:` are for annotations only and never run: not edges."""

from __future__ import annotations

import ast
from pathlib import Path

import harlax

PACKAGE = Path(harlax.__file__).resolve().parent


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path, modules: set[str]) -> set[str]:
    """The harlax modules `path` imports (`from harlax import x` counts x if it is one)."""
    out = set()
    tree = ast.parse(path.read_text())
    for block in ast.walk(tree):
        if isinstance(block, ast.If) and ast.unparse(block.test) == "TYPE_CHECKING":
            block.body = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name in modules}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                if sub in modules:
                    out.add(sub)
                elif node.module in modules:
                    out.add(node.module)
    return out


def import_graph() -> dict[str, set[str]]:
    files = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    return {m: imports_of(p, set(files)) - {m} for m, p in files.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """A cycle `[a, b, ..., a]` of the directed graph, or None (depth-first search)."""
    state: dict[str, int] = {}  # 1: on the current path, 2: finished
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt) :] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_find_cycle_finds_a_planted_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]


def test_the_package_imports_no_cycle():
    graph = import_graph()
    assert "harlax.train" in graph and "harlax.checkpoint" in graph["harlax.train"]
    # The package's own __init__ re-exports the API; it imports, nothing imports it.
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph))


def test_config_is_a_leaf():
    """config.py imports nothing of harlax at module level (only `validate` looks further)."""
    tree = ast.parse((PACKAGE / "config.py").read_text())
    top = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
    assert not [
        n for n in top if isinstance(n, ast.ImportFrom) and (n.module or "").startswith("harlax")
    ]
