"""The architecture of gp2bm/, read from its source with ``ast`` (docs/ARCHITECTURE.md).

Each rule is one test; a failure lists every violation, one line each, naming the file,
the function (or class) and the rule broken.

* no function or method longer than MAX_FUNCTION_LINES (def line to last line);
* no import inside a function, except the heavy optional modules of HEAVY_MODULES, each
  with a ``# heavy`` comment on the import line;
* no import cycle among gp2bm's modules (top-level and function-level imports alike);
* every module lives in a stage package; only TOP_LEVEL_FILES sit in gp2bm/ itself, and
  every stage package is described in docs/ARCHITECTURE.md;
* a runtime plugin imports no sibling plugin (except ALLOWED_PLUGIN_IMPORTS);
* exception classes are defined in gp2bm/errors.py only;
* no module outside ADAPTER imports MLCommons' library (LIBRARY), by an import statement or
  by a call naming it (``importlib.import_module("mlperf_logging...")``).
"""

from __future__ import annotations

import ast
import builtins
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from gp2bm.runtimes import NAMES

REPO = Path(__file__).resolve().parent.parent
PACKAGE = REPO / "gp2bm"
ARCHITECTURE_DOC = REPO / "docs" / "ARCHITECTURE.md"

MAX_FUNCTION_LINES = 60
HEAVY_MODULES = (
    "matplotlib",
    "openpyxl",
    "mlperf_logging.package_checker",
    "mlperf_logging.rcp_checker",
    "mlperf_logging.result_summarizer",
    "pynvml",
    "h5py",
    "numpy",
    "scipy",
    "redfish",
    "pyipmi",
)
HEAVY_COMMENT = "# heavy"
TOP_LEVEL_FILES = {"__init__.py", "__main__.py", "errors.py"}
ERRORS_MODULE = "gp2bm.errors"
# podman speaks Docker's API: its runtime is docker's code with another socket.
ALLOWED_PLUGIN_IMPORTS = {("podman", "docker")}
# MLCommons' mlperf-logging, and the one package of gp2bm that imports it.
LIBRARY = "mlperf_logging"
ADAPTER = "gp2bm.results.mlcommons"
# Functions that import the module their first argument names.
IMPORTING_CALLS = {"import_module", "__import__"}


# ---------------------------------------------------------------------------- reading gp2bm/


@dataclass(frozen=True)
class Module:
    name: str  # gp2bm.node.inventory
    path: Path
    rel: str  # gp2bm/node/inventory.py
    tree: ast.Module
    lines: tuple[str, ...]


@dataclass(frozen=True)
class Import:
    """One import statement: the gp2bm modules (or any modules) it names, where it is."""

    module: Module
    node: ast.Import | ast.ImportFrom
    function: str | None  # the enclosing function's qualified name, None at module level
    targets: tuple[str, ...]  # fully qualified names it imports (module, or module.name)

    @property
    def where(self) -> str:
        return f"{self.module.rel}:{self.node.lineno} in {self.function or '<module>'}"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def read_module(path: Path, text: str) -> Module:
    return Module(
        name=module_name(path),
        path=path,
        rel=path.relative_to(REPO).as_posix(),
        tree=ast.parse(text, filename=str(path)),
        lines=tuple(text.splitlines()),
    )


@cache
def modules() -> tuple[Module, ...]:
    return tuple(
        read_module(path, path.read_text(encoding="utf-8"))
        for path in sorted(PACKAGE.rglob("*.py"))
    )


def module_names() -> set[str]:
    return {m.name for m in modules()}


Scope = list[ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef]


def _walk_scoped(node: ast.AST, scope: Scope):
    """(node, enclosing function's qualified name or None, enclosing class/function path)."""
    for child in ast.iter_child_nodes(node):
        yield child, scope
        if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            yield from _walk_scoped(child, [*scope, child])
        else:
            yield from _walk_scoped(child, scope)


def _function_of(scope: list) -> str | None:
    if not any(isinstance(s, ast.FunctionDef | ast.AsyncFunctionDef) for s in scope):
        return None
    return ".".join(s.name for s in scope)


def _absolute(module: Module, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    package = module.name.split(".")
    if not module.path.name == "__init__.py":
        package = package[:-1]
    base = package[: len(package) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _targets(module: Module, node: ast.Import | ast.ImportFrom) -> tuple[str, ...]:
    if isinstance(node, ast.Import):
        return tuple(alias.name for alias in node.names)
    base = _absolute(module, node)
    return tuple(f"{base}.{alias.name}" if alias.name != "*" else base for alias in node.names)


def imports_of(module: Module) -> list[Import]:
    return [
        Import(module, node, _function_of(scope), _targets(module, node))
        for node, scope in _walk_scoped(module.tree, [])
        if isinstance(node, ast.Import | ast.ImportFrom)
    ]


@cache
def imports() -> tuple[Import, ...]:
    return tuple(imp for module in modules() for imp in imports_of(module))


def gp2bm_module_of(target: str) -> str | None:
    """The gp2bm module a fully qualified name lives in (a module, or a name in one)."""
    known = module_names()
    name = target
    while name:
        if name in known:
            return name
        name = name.rpartition(".")[0]
    return None


# ---------------------------------------------------------------------------- the rules


def test_no_function_longer_than_60_lines():
    found = []
    for module in modules():
        for node, scope in _walk_scoped(module.tree, []):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            length = (node.end_lineno or node.lineno) - node.lineno + 1
            if length > MAX_FUNCTION_LINES:
                name = ".".join(s.name for s in [*scope, node])
                found.append(
                    f"{module.rel}:{node.lineno}: function {name}: {length} lines "
                    f"(rule: no function longer than {MAX_FUNCTION_LINES} lines)"
                )
    assert not found, "\n".join(found)


def _heavy(target: str) -> bool:
    return any(target == h or target.startswith(h + ".") for h in HEAVY_MODULES)


def _allowed_in_function(imp: Import) -> bool:
    node = imp.node
    if isinstance(node, ast.ImportFrom) and _heavy(_absolute(imp.module, node)):
        heavy = True
    else:
        heavy = all(_heavy(t) for t in imp.targets)
    text = "\n".join(imp.module.lines[node.lineno - 1 : node.end_lineno])
    return heavy and HEAVY_COMMENT in text


def test_no_import_inside_a_function_except_heavy_ones():
    found = [
        f"{imp.module.rel}:{imp.node.lineno}: function {imp.function}: imports "
        f"{', '.join(imp.targets)} (rule: no import inside a function but a heavy module's, "
        f"with '{HEAVY_COMMENT}: why' on the line)"
        for imp in imports()
        if imp.function is not None and not _allowed_in_function(imp)
    ]
    assert not found, "\n".join(found)


def import_graph() -> dict[str, dict[str, Import]]:
    """module -> imported gp2bm module -> the first import statement making that edge."""
    graph: dict[str, dict[str, Import]] = {name: {} for name in module_names()}
    for imp in imports():
        for target in imp.targets:
            dest = gp2bm_module_of(target)
            if dest is not None and dest != imp.module.name:
                graph[imp.module.name].setdefault(dest, imp)
    return graph


def strongly_connected(graph: dict[str, dict]) -> list[list[str]]:
    """Tarjan's components of more than one module (iterative: no recursion limit)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    components.append(sorted(component))
    return components


def a_cycle(graph: dict[str, dict], component: list[str]) -> list[str]:
    """One closed path through a component: [a, b, ..., a]."""
    members = set(component)
    start = component[0]
    paths = {start: [start]}
    queue = [start]
    while queue:
        node = queue.pop(0)
        for child in sorted(graph[node]):
            if child == start:
                return paths[node] + [start]
            if child in members and child not in paths:
                paths[child] = paths[node] + [child]
                queue.append(child)
    raise AssertionError(f"no cycle through {start} in {component}")


def test_no_import_cycle():
    graph = import_graph()
    found = []
    for component in strongly_connected(graph):
        cycle = a_cycle(graph, component)
        steps = "; ".join(
            f"{graph[a][b].where} imports {b}" for a, b in zip(cycle, cycle[1:], strict=False)
        )
        found.append(f"import cycle {' -> '.join(cycle)}: {steps} (rule: no import cycle)")
    assert not found, "\n".join(found)


def package_of(module: str) -> str:
    """The stage package a module belongs to (gp2bm.node.inventory -> gp2bm.node)."""
    return ".".join(module.split(".")[:2])


def package_graph(graph: dict[str, dict[str, Import]]) -> dict[str, dict[str, Import]]:
    """package -> imported package -> the first import statement making that edge."""
    packages: dict[str, dict[str, Import]] = {package_of(m): {} for m in graph}
    for module, edges in graph.items():
        for dest, imp in edges.items():
            a, b = package_of(module), package_of(dest)
            if a != b:
                packages[a].setdefault(b, imp)
    return packages


def test_no_package_cycle():
    """The stages form a line, not a web: no package imports one that imports it back,
    through any chain of packages (docs/ARCHITECTURE.md draws the order)."""
    graph = package_graph(import_graph())
    found = []
    for component in strongly_connected(graph):
        cycle = a_cycle(graph, component)
        steps = "; ".join(
            f"{graph[a][b].where} imports {b}" for a, b in zip(cycle, cycle[1:], strict=False)
        )
        found.append(f"package cycle {' -> '.join(cycle)}: {steps} (rule: no package cycle)")
    assert not found, "\n".join(found)


def test_every_module_lives_in_a_stage_package():
    found = [
        f"{m.rel}: module {m.name} (rule: every module lives in a stage package; only "
        f"{', '.join(sorted(TOP_LEVEL_FILES))} sit in gp2bm/)"
        for m in modules()
        if m.path.parent == PACKAGE and m.path.name not in TOP_LEVEL_FILES
    ]
    doc = ARCHITECTURE_DOC.read_text(encoding="utf-8") if ARCHITECTURE_DOC.is_file() else ""
    for package in sorted(p for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()):
        if f"`gp2bm/{package.name}/`" not in doc:
            found.append(
                f"gp2bm/{package.name}/__init__.py: package gp2bm.{package.name} (rule: every "
                f"stage package has its paragraph in docs/ARCHITECTURE.md, `gp2bm/"
                f"{package.name}/`)"
            )
    assert not found, "\n".join(found)


def test_runtime_plugins_import_no_sibling_plugin():
    plugins = {f"gp2bm.runtimes.{name}": name for name in NAMES}
    found = [
        f"gp2bm/runtimes/{name}.py: runtime {name} (rule: each name in NAMES is one plugin "
        "file; there is no such file)"
        for module, name in plugins.items()
        if module not in module_names()
    ]
    for imp in imports():
        own = plugins.get(imp.module.name)
        if own is None:
            continue
        for target in imp.targets:
            other = plugins.get(gp2bm_module_of(target) or "")
            if other and other != own and (own, other) not in ALLOWED_PLUGIN_IMPORTS:
                found.append(
                    f"{imp.module.rel}:{imp.node.lineno}: function "
                    f"{imp.function or '<module>'}: imports the sibling plugin {other} "
                    "(rule: a runtime plugin imports no sibling plugin; share code through "
                    "gp2bm/runtimes/process.py or base.py)"
                )
    assert not found, "\n".join(found)


def _base_name(base: ast.expr) -> str | None:
    if isinstance(base, ast.Name):
        return base.id
    if isinstance(base, ast.Attribute):
        return base.attr
    return None


def exception_classes() -> list[tuple[Module, ast.ClassDef, list]]:
    """Every class of gp2bm/ deriving from BaseException (by name, to a fixpoint)."""
    names = {
        n
        for n in dir(builtins)
        if isinstance(getattr(builtins, n), type)
        and issubclass(getattr(builtins, n), BaseException)
    }
    classes = [
        (m, node, scope)
        for m in modules()
        for node, scope in _walk_scoped(m.tree, [])
        if isinstance(node, ast.ClassDef)
    ]
    found: list = []
    grew = True
    while grew:
        grew = False
        for entry in classes:
            _, node, _ = entry
            if entry not in found and any(_base_name(b) in names for b in node.bases):
                found.append(entry)
                names.add(node.name)
                grew = True
    return found


def test_exception_classes_live_in_errors_py():
    found = [
        f"{m.rel}:{node.lineno}: class {node.name} in "
        f"{'.'.join(s.name for s in scope) or '<module>'} (rule: exception classes are "
        "defined in gp2bm/errors.py only)"
        for m, node, scope in exception_classes()
        if m.name != ERRORS_MODULE
    ]
    assert not found, "\n".join(found)


def test_the_rules_see_what_they_check():
    """The reader finds gp2bm's modules, its errors and its imports (no vacuous pass)."""
    names = module_names()
    assert {"gp2bm.errors", "gp2bm.cli.app", "gp2bm.runtimes.base"} <= names
    assert any(m.name == ERRORS_MODULE for m, _, _ in exception_classes())
    assert any(gp2bm_module_of(t) == "gp2bm.errors" for i in imports() for t in i.targets)
    sample = read_module(
        PACKAGE / "node" / "sample.py",
        "import os\n"
        "from . import gpus\n"
        "def f():\n"
        "    import pynvml  # heavy: the NVIDIA driver is optional\n"
        "    import openpyxl\n"
        "    from mlperf_logging import package_checker  # heavy: slow to import\n"
        "    from mlperf_logging import mllog  # heavy: not on the list\n",
    )
    found = imports_of(sample)
    assert [i.targets for i in found] == [
        ("os",),
        ("gp2bm.node.gpus",),
        ("pynvml",),
        ("openpyxl",),
        ("mlperf_logging.package_checker",),
        ("mlperf_logging.mllog",),
    ]
    assert [i.function for i in found] == [None, None, "f", "f", "f", "f"]
    assert [_allowed_in_function(i) for i in found[2:]] == [True, False, True, False]
    assert package_of("gp2bm.node.inventory") == "gp2bm.node"
    assert package_of("gp2bm.errors") == "gp2bm.errors"
    modular = {"gp2bm.a.x": {"gp2bm.b.y": None}, "gp2bm.b.y": {"gp2bm.a.z": None}, "gp2bm.a.z": {}}
    assert strongly_connected(package_graph(modular)) == [["gp2bm.a", "gp2bm.b"]]
    cyclic = {"a": {"b": None}, "b": {"c": None}, "c": {"a": None}, "d": {"a": None}}
    assert strongly_connected(cyclic) == [["a", "b", "c"]]
    assert a_cycle(cyclic, ["a", "b", "c"]) == ["a", "b", "c", "a"]


# ---------------------------------------------------------------------------- the layout

LAYOUT_MODULE = "gp2bm.campaign.layout"
# The names of a campaign's (and a bundle's) layout. A path made of one of them anywhere but
# the layout module is a campaign path joined by hand.
LAYOUT_NAMES = {
    "campaign.json",
    "inventory.json",
    "records",
    "results",
    "systems",
    "benchmarks",
    "implementations",
    "attempts",
    "nodes",
    "reports",
    "images",
    "scaling.json",
    "package_checker_params",
    "gp2bm-claims.json",
    "gp2bm-bundle.json",
    "SHA256SUMS",
    "README.md",
    "manifests",
    "changes",
    "checks",
    "images.json",
    "DESCRIPTION.txt",
    "package_checker.log",
    ".gp2bm.lock",
}
# File names of the layout that carry a run's number (result_N.txt, run_N.json, ...).
LAYOUT_FILE_RE = re.compile(
    r"^(result|run|telemetry|cache_drop_failure)_.*|.*\.partial$|^\.node-step.*"
)


def _text_of(node: ast.expr) -> str | None:
    """The literal text of a string constant, or of an f-string with its fields as '{}'."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(
            v.value if isinstance(v, ast.Constant) and isinstance(v.value, str) else "{}"
            for v in node.values
        )
    return None


def _layout_name(text: str) -> bool:
    """Whether a path's text starts with a name of the layout (``records/...``,
    ``result_{}.txt``)."""
    first = text.removeprefix("./").split("/", 1)[0]
    return first in LAYOUT_NAMES or bool(LAYOUT_FILE_RE.match(first))


def _docstrings(tree: ast.Module) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                found.add(id(body[0].value))
    return found


def hand_joined_paths(module: Module) -> list[str]:
    """Every place where ``module`` builds a campaign path by hand: a layout name joined with
    ``/``, given to ``Path()``/``joinpath``, globbed, or written as a path in text."""
    found = []
    skip = _docstrings(module.tree) | {
        id(v) for n in ast.walk(module.tree) if isinstance(n, ast.JoinedStr) for v in n.values
    }
    for node in ast.walk(module.tree):
        parts: list[ast.expr] = []
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
            parts = [node.left, node.right]
        elif isinstance(node, ast.Call):
            func = node.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
            if name in ("Path", "PurePath", "joinpath", "glob", "rglob"):
                parts = list(node.args)
        elif isinstance(node, ast.Constant | ast.JoinedStr) and id(node) not in skip:
            text = _text_of(node)
            if text and "/" in text and " " not in text and _layout_name(text):
                found.append(f"{module.rel}:{node.lineno}: the path '{text}' written as text")
            continue
        for part in parts:
            text = _text_of(part)
            if text is not None and _layout_name(text):
                found.append(f"{module.rel}:{node.lineno}: '{text}' joined into a path")
    return sorted(dict.fromkeys(found), key=lambda line: int(line.split(":")[1]))


def test_no_campaign_path_is_joined_by_hand():
    found = [
        f"{line} (rule: campaign and bundle paths come from {LAYOUT_MODULE}, never joined "
        "by hand)"
        for module in modules()
        if module.name != LAYOUT_MODULE
        for line in hand_joined_paths(module)
    ]
    assert not found, "\n".join(found)


def test_the_layout_rule_sees_what_it_checks():
    sample = read_module(
        PACKAGE / "reports" / "sample.py",
        '"""records/<bench>/run_N.json is where a record lies."""\n'
        "from pathlib import Path\n"
        "def f(root, bench, n, layout):\n"
        '    a = root / "records" / bench\n'
        '    b = a / f"run_{n}.json"\n'
        '    c = Path("inventory.json")\n'
        '    d = list(root.glob("result_*.txt"))\n'
        '    e = f"reports/{bench}.csv"\n'
        '    ok = layout.record_path(bench, n), root / bench, "a records/ folder"\n',
    )
    found = hand_joined_paths(sample)
    assert [line.split(": ", 1)[0].rsplit(":", 1)[1] for line in found] == [
        "4", "5", "6", "7", "8"
    ], found
    assert any(m.name == LAYOUT_MODULE for m in modules())


def _within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def library_uses(module: Module) -> list[tuple[int, str]]:
    """(line, name) of each import of MLCommons' library in ``module``: import statements,
    and calls importing a module named by a literal (``importlib.import_module``,
    ``__import__``)."""
    found = [
        (imp.node.lineno, target)
        for imp in imports_of(module)
        for target in imp.targets
        if _within(target, LIBRARY)
    ]
    for node in ast.walk(module.tree):
        if (
            isinstance(node, ast.Call)
            and _base_name(node.func) in IMPORTING_CALLS  # the name a call ends with
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
            and _within(node.args[0].value, LIBRARY)
        ):
            found.append((node.lineno, node.args[0].value))
    return sorted(found)


def library_violations(module: Module) -> list[str]:
    if _within(module.name, ADAPTER):
        return []
    return [
        f"{module.rel}:{line}: imports {name} (rule: mlperf-logging is imported only by "
        f"{ADAPTER.replace('.', '/')}/; call its typed functions there)"
        for line, name in library_uses(module)
    ]


def test_only_the_mlcommons_adapter_imports_mlperf_logging():
    found = [line for module in modules() for line in library_violations(module)]
    assert not found, "\n".join(found)


def test_the_library_rule_sees_what_it_checks():
    """The rule finds every way of importing the library outside the adapter, none inside,
    and the adapter's own imports of it on the real tree (no vacuous pass)."""
    outside = read_module(
        PACKAGE / "reports" / "sample.py",
        "import importlib\n"
        "import mlperf_logging\n"
        "import mlperf_logging_extras\n"
        "from mlperf_logging.compliance_checker import mlp_compliance\n"
        "from gp2bm.results.mlcommons import rcp\n"
        "def f(name):\n"
        "    from mlperf_logging import package_checker  # heavy: slow to import\n"
        "    importlib.import_module('mlperf_logging.rcp_checker.rcp_checker')\n"
        "    importlib.import_module(name)\n"
        "    return __import__('mlperf_logging.mllog')\n",
    )
    assert library_uses(outside) == [
        (2, "mlperf_logging"),
        (4, "mlperf_logging.compliance_checker.mlp_compliance"),
        (7, "mlperf_logging.package_checker"),
        (8, "mlperf_logging.rcp_checker.rcp_checker"),
        (10, "mlperf_logging.mllog"),
    ]
    assert len(library_violations(outside)) == 5
    assert "gp2bm/reports/sample.py:7: imports mlperf_logging.package_checker" in (
        library_violations(outside)[2]
    )
    inside = read_module(
        PACKAGE / "results" / "mlcommons" / "sample.py",
        "from mlperf_logging.compliance_checker import mlp_compliance\n",
    )
    assert library_uses(inside) and library_violations(inside) == []
    adapter = [m for m in modules() if _within(m.name, ADAPTER)]
    assert len(adapter) > 5 and sum(len(library_uses(m)) for m in adapter) > 5


# ---------------------------------------------------------------------------- the CLI

CLI = "gp2bm.cli"
# What a command module may import of the command line: the error funnel and its consoles,
# and the options every command shares.
CLI_SHARED = {"gp2bm.cli.app", "gp2bm.cli.options"}
OPTIONS_MODULE = "gp2bm.cli.options"


def cli_violations(module: Module) -> list[str]:
    """A command module importing another command module, or declaring an option (a call
    of ``typer.Option``/``typer.Argument``) outside the options module."""
    if not _within(module.name, CLI) or module.name == CLI:
        return []
    found = []
    for imp in imports_of(module):
        for target in imp.targets:
            dest = gp2bm_module_of(target) or target
            if _within(dest, CLI) and dest not in CLI_SHARED | {module.name}:
                found.append(
                    f"{imp.where}: imports {dest} (rule: no cli module imports another; "
                    "what two commands share lives in a stage, or in cli/options.py)"
                )
    if module.name != OPTIONS_MODULE:
        for node in ast.walk(module.tree):
            if isinstance(node, ast.Call) and _base_name(node.func) in ("Option", "Argument"):
                found.append(
                    f"{module.rel}:{node.lineno}: declares an option (rule: every option is "
                    "declared once, in gp2bm/cli/options.py)"
                )
    return found


def test_cli_modules_only_wire():
    found = [line for module in modules() for line in cli_violations(module)]
    assert not found, "\n".join(found)


def test_the_cli_rule_sees_what_it_checks():
    sample = read_module(
        PACKAGE / "cli" / "sample.py",
        "import typer\n"
        "from gp2bm.cli.app import app\n"
        "from gp2bm.cli.options import JsonOpt\n"
        "from gp2bm.cli.node import inventory\n"
        "from gp2bm.cli import campaign\n"
        "Opt = typer.Option('--x')\n",
    )
    found = cli_violations(sample)
    assert len(found) == 3, found
    assert "imports gp2bm.cli.node" in found[0] and "imports gp2bm.cli.campaign" in found[1]
    assert "declares an option" in found[2]
    assert any(m.name == OPTIONS_MODULE for m in modules())


# ---------------------------------------------------------------------------- the doc's order


def documented_packages() -> list[str]:
    """The stage packages in the order docs/ARCHITECTURE.md describes them."""
    text = ARCHITECTURE_DOC.read_text(encoding="utf-8")
    return [
        f"gp2bm.{m.group(1)}"
        for m in re.finditer(r"^### `gp2bm/([a-z_]+)/`", text, flags=re.M)
    ]


def order_violations(graph: dict[str, dict[str, Import]], order: list[str]) -> list[str]:
    """Each import of a package described later in ``order`` than the importing one."""
    place = {p: i for i, p in enumerate(order)}
    found = []
    for package, edges in sorted(graph.items()):
        for dest, imp in sorted(edges.items()):
            if package in place and dest in place and place[dest] > place[package]:
                where = imp.where if imp is not None else package
                found.append(
                    f"{where} imports {dest}, described after {package} (rule: each "
                    "package imports only those docs/ARCHITECTURE.md describes before it)"
                )
    return found


def test_the_doc_describes_the_packages_in_the_order_of_their_imports():
    order = documented_packages()
    graph = package_graph(import_graph())
    stages = {p for p in graph if p.count(".") == 1 and p not in ("gp2bm.errors",)}
    stages -= {"gp2bm.__main__"}
    assert set(order) == stages, (sorted(stages - set(order)), sorted(set(order) - stages))
    found = order_violations(graph, order)
    assert not found, "\n".join(found)
    assert order_violations({"a": {"b": None}}, ["a", "b"])  # no vacuous pass


RUNTIME_NAMES = set(NAMES)


def runtime_name_defaults(module: Module) -> list[str]:
    """A runtime's name given as a default: a parameter's default, a class attribute's
    value, or ``runtime="..."`` in a call."""
    found = []
    for node in ast.walk(module.tree):
        values: list[ast.expr] = []
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            values = [d for d in (*node.args.defaults, *node.args.kw_defaults) if d is not None]
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            values = [node.value]
        elif isinstance(node, ast.Call):
            values = [k.value for k in node.keywords if k.arg == "runtime"]
        for value in values:
            if isinstance(value, ast.Constant) and value.value in RUNTIME_NAMES:
                found.append(
                    f"{module.rel}:{value.lineno}: the runtime '{value.value}' as a default "
                    "(rule: the default runtime is gp2bm.runtimes.DEFAULT)"
                )
    return found


def test_the_default_runtime_is_named_once():
    found = [
        line
        for module in modules()
        if not _within(module.name, "gp2bm.runtimes")
        for line in runtime_name_defaults(module)
    ]
    assert not found, "\n".join(found)
    sample = read_module(
        PACKAGE / "run" / "sample.py",
        "def f(runtime: str = 'docker', other: str = 'x'):\n"
        "    g(runtime='local')\n",
    )
    assert len(runtime_name_defaults(sample)) == 2
