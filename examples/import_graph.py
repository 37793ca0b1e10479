"""The shape of famcli's imports (issue 34): every module's famcli imports, those inside functions included.

Prints a JSON report: the modules left in famcli/ itself, import cycles between modules, imports between
sub-packages that run against their order (PACKAGES, lowest first: a package may import only those before it),
the longest chain of imports (in modules) and the number of modules and imports. The memory registry names its
modules as strings ("famcli.core.memory.fam:Fam", imported when a mode is first used): those plugin entries are
not imports in the code, so the chain does not count them, but cycles are looked for with them too.

    python examples/import_graph.py            # the report; exit 1 when a cycle or an upward import is found
"""

from __future__ import annotations

import ast
import json
import sys
from functools import cache
from pathlib import Path

PACKAGES = ("common", "text", "adapters", "kernels", "documents", "answer", "recall", "core", "models", "summary", "jobs",
            "passkey", "chat", "batch", "training", "measure", "cli")
FACE = {"famcli", "famcli.__main__"}  # the package's face: its version and `python -m famcli`


def graph(root: Path) -> dict[str, set[str]]:
    """famcli module -> the famcli modules it imports (the kernels/ folder installs as famcli_kernels, whose
    dispatch is famcli.kernels: both are the package "kernels" below)."""
    modules: dict[str, Path] = {}
    for base, prefix in ((root, ("famcli",)), (root.parent / "kernels", ("famcli_kernels",))):
        for path in base.rglob("*.py"):
            modules[".".join((*prefix, *path.relative_to(base).with_suffix("").parts)).removesuffix(".__init__")] = path
    edges: dict[str, set[str]] = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        deps = set()
        for node in _runtime_nodes(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                module = node.module or ""
                if node.level:  # relative: from the module's own package
                    module = ".".join([*package.split(".")[:len(package.split(".")) - node.level + 1], *filter(None, [module])])
                if module.startswith("famcli"):
                    deps |= {f"{module}.{a.name}" if f"{module}.{a.name}" in modules else module for a in node.names}
            elif isinstance(node, ast.Import):
                deps |= {a.name for a in node.names if a.name.startswith("famcli")}
        edges[name] = {d for d in deps if d in modules and d != name}
    return edges


def registry_edges(root: Path, modules: set[str]) -> dict[str, set[str]]:
    """Module -> the famcli modules its string constants name as "module:Name" (the memory registry)."""
    edges: dict[str, set[str]] = {}
    for path in root.rglob("*.py"):
        name = ".".join(("famcli", *path.relative_to(root).with_suffix("").parts)).removesuffix(".__init__")
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.count(":") == 1:
                target = node.value.split(":")[0]
                if "." in target and target in modules and target != name:
                    edges.setdefault(name, set()).add(target)
    return edges


def _runtime_nodes(tree: ast.AST):
    """Every node but those under `if TYPE_CHECKING:` (imports for annotations, never run)."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING":
            yield from (n for child in node.orelse for n in ast.walk(child))
            continue
        yield node
        yield from _runtime_nodes(node)


def package_of(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] == "famcli_kernels":
        return "kernels"
    return parts[1] if len(parts) > 2 or (len(parts) == 2 and parts[1] in PACKAGES) else None


def report(edges: dict[str, set[str]], plugins: dict[str, set[str]] | None = None) -> dict:
    def cycle_from(start, at, seen, edges):
        for nxt in sorted(edges[at]):
            if nxt == start:
                return [*seen, nxt]
            if nxt not in seen:
                found = cycle_from(start, nxt, [*seen, nxt], edges)
                if found:
                    return found
        return None

    both = {m: deps | (plugins or {}).get(m, set()) for m, deps in edges.items()}  # a cycle may pass a plugin
    cycles = [c for m in sorted(both) if (c := cycle_from(m, m, [m], both))]
    upward = sorted(f"{a} -> {b}" for a, deps in edges.items() for b in deps
                    if package_of(a) and package_of(b) and PACKAGES.index(package_of(b)) > PACKAGES.index(package_of(a)))

    @cache
    def chain(m: str) -> tuple[str, ...]:
        return (m, *max((chain(d) for d in edges[m]), key=len, default=()))

    longest = max((chain(m) for m in edges), key=len) if not cycles else ()
    return {"modules": len(edges), "imports": sum(map(len, edges.values())),
            "root_modules": sorted(m for m in edges if package_of(m) is None and m not in FACE),
            "cycles": cycles, "upward_imports": upward, "longest_chain": len(longest), "chain": list(longest)}


if __name__ == "__main__":
    root = Path(__file__).resolve().parent.parent / "famcli"
    edges = graph(root)
    result = report(edges, registry_edges(root, set(edges)))
    print(json.dumps(result, indent=1))
    sys.exit(1 if result["cycles"] or result["upward_imports"] else 0)
