"""The shape of src/wts, checked: no import cycle, Win32 codes spelled only in the one table, modules
of a readable size (docs/design.md).

These read the sources (not the installed package), so they skip where the suite runs from an
installed wheel without src/wts beside it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from wts._winerror import WinError

SRC = Path(__file__).resolve().parents[1] / "src" / "wts"
if not (SRC / "__init__.py").is_file():  # pragma: no cover - the suite run against an installed wheel
    pytest.skip("needs the sources (src/wts)", allow_module_level=True)

# Modules allowed past the size limit, each with the reason its docstring also gives.
SIZE_LIMIT = 520
LONG_MODULES: dict[str, str] = {
    # One state machine (submit, answer, decide): split further, each answer's handling would sit
    # apart from the state it changes.
    "wts._bulk": "so it stays whole",
}


def _modules() -> dict[str, Path]:
    """Dotted module name -> file, for every .py under src/wts."""
    out = {}
    for path in sorted(SRC.rglob("*.py")):
        parts = ["wts", *path.relative_to(SRC).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


MODULES = _modules()
EXTENSIONS = {"wts._wts"}  # compiled: no .py to read, and it imports nothing of wts


def _resolve(module: str, is_package: bool, level: int, name: str | None) -> str:
    """The absolute name of a relative import's base (``from ..x import y`` in ``module``)."""
    if level == 0:
        return name or ""
    package = module.split(".") if is_package else module.split(".")[:-1]
    base = package[: len(package) - (level - 1)]
    return ".".join([*base, name] if name else base)


def imports_of(module: str, is_package: bool, source: str) -> set[str]:
    """Every wts module ``module`` imports, anywhere in it (function bodies and TYPE_CHECKING blocks too)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(module, is_package, node.level, node.module)
            # "from . import x" imports the submodule x when there is one (its package is imported
            # first anyway, as for any submodule); any other name is read from base, which must have
            # run by then: an edge to base.
            subs = [f"{base}.{alias.name}" for alias in node.names]
            names = [n for n in subs if n in MODULES]
            if any(n not in MODULES and n not in EXTENSIONS for n in subs):
                names.append(base)
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            names = [node.args[0].value]  # importlib.import_module("wts._bench"): an import all the same
        else:
            continue
        found.update(n for n in names if n in MODULES and n != module)
    return found


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return cycles


def test_no_import_cycle() -> None:
    graph = {
        name: imports_of(name, path.name == "__init__.py", path.read_text(encoding="utf-8"))
        for name, path in MODULES.items()
    }
    assert find_cycles(graph) == []


def test_the_cycle_finder_finds_cycles() -> None:
    assert find_cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert find_cycles({"a": {"b"}, "b": set()}) == []


def test_imports_are_read_from_function_bodies() -> None:
    # The CLI once hid a cycle in a function-level import; the graph must see those.
    source = "import os\ndef f():\n    from .. import _winerror\n    from .._errors import WTSError\n"
    assert imports_of("wts._cli._probe", False, source) == {"wts._winerror", "wts._errors"}
    assert imports_of("wts._cli._probe", False, "from .. import __version__") == {"wts"}
    assert imports_of("wts", True, "from . import _errors, _wts") == {"wts._errors"}


# -- Win32 codes -----------------------------------------------------------------------------------

# Codes with more than two digits can't be anything else in this code base: any such literal is a
# code spelled outside the table.  Small ones (5, 87, ...) count where they sit next to an error:
# compared with, or passed as, something named like one.
DISTINCTIVE = {int(c) for c in WinError if c >= 258}
SMALL = {int(c) for c in WinError if c < 258}
SESSION_CONSTANTS = {0xFFFFFFFF, 0xFFFFFFFE, 65536}  # wts._types: CURRENT_SESSION, MAX_SESSION_ID, ...
TABLES = {"wts._winerror": DISTINCTIVE | SMALL, "wts._types": SESSION_CONSTANTS}


def _errorish(node: ast.AST) -> bool:
    text = ast.unparse(node).lower()
    return "error" in text or "code" in text


def bare_codes(module: str, source: str) -> list[str]:
    """``line: literal`` for every Win32 code or session constant spelled as a number in code."""
    allowed = TABLES.get(module, set())
    hits = []
    for node in ast.walk(ast.parse(source)):
        consts: list[ast.Constant] = []
        if isinstance(node, ast.Constant):
            if node.value in DISTINCTIVE | SESSION_CONSTANTS and type(node.value) is int:
                consts.append(node)
        if isinstance(node, ast.Compare):
            operands = [node.left, *node.comparators]
            if any(_errorish(o) for o in operands if not isinstance(o, ast.Constant)):
                consts += [o for o in operands if isinstance(o, ast.Constant) and o.value in SMALL]
                for o in operands:
                    if isinstance(o, (ast.Set, ast.Tuple, ast.List)):
                        consts += [e for e in o.elts if isinstance(e, ast.Constant) and e.value in SMALL]
        if isinstance(node, ast.Call) and _errorish(node.func):
            consts += [a for a in node.args if isinstance(a, ast.Constant) and a.value in SMALL]
        if isinstance(node, ast.keyword) and node.arg and _errorish(ast.Name(node.arg)):
            if isinstance(node.value, ast.Constant) and node.value.value in SMALL:
                consts.append(node.value)
        for c in consts:
            if type(c.value) is int and c.value not in allowed:
                hits.append(f"{c.lineno}: {c.value}")
    return sorted(set(hits), key=lambda h: tuple(int(x) for x in h.split(": ")))


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_bare_win32_code(module: str) -> None:
    assert bare_codes(module, MODULES[module].read_text(encoding="utf-8")) == []


def test_bare_codes_are_found() -> None:
    assert bare_codes("wts._x", "if err.winerror == 7022: pass") == ["1: 7022"]
    assert bare_codes("wts._x", "if winerror in (5, 87): pass") == ["1: 5", "1: 87"]
    assert bare_codes("wts._x", "e = error_from_winerror(5, 'f')") == ["1: 5"]
    assert bare_codes("wts._x", "x = MAX if n < 0xFFFFFFFE else 65536") == ["1: 65536", "1: 4294967294"]
    assert bare_codes("wts._x", "rounds = 5\nretries = range(5)") == []
    assert bare_codes("wts._winerror", "X = 7022") == []


# -- sizes -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("module", sorted(MODULES))
def test_module_size(module: str) -> None:
    path = MODULES[module]
    lines = len(path.read_text(encoding="utf-8").splitlines())
    if module in LONG_MODULES:
        doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
        assert LONG_MODULES[module] in doc, f"{module} is {lines} lines; its docstring must say why"
    else:
        assert lines <= SIZE_LIMIT, f"{module} is {lines} lines: split it by job, or say why it is one thing"


def test_every_module_says_its_job() -> None:
    missing = [m for m, p in MODULES.items() if not ast.get_docstring(ast.parse(p.read_text(encoding="utf-8")))]
    assert missing == []
