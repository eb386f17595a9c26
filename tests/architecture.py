"""An import-linter contract type that forbids import cycles: between modules, and between the siblings of
every package (a package's children, each with its descendants). The layers and forbidden imports are
import-linter's own contracts (``[tool.importlinter]`` in ``pyproject.toml``); ``lint-imports`` runs them all.
"""

from __future__ import annotations

from grimp import ImportGraph
from importlinter.application import output
from importlinter.domain import fields
from importlinter.domain.contract import Contract, ContractCheck


def strongly_connected(nodes: list[str], edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one node (Tarjan's algorithm, without recursion)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in nodes:
        if root in index:
            continue
        work = [(root, iter(sorted(edges.get(root, ()))))]
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
                    work.append((child, iter(sorted(edges.get(child, ())))))
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
                    found.append(sorted(component))
    return found


def _top(module: str, package: str) -> str | None:
    """The child of ``package`` that ``module`` lies in (None outside the package, or the package itself)."""
    if not module.startswith(package + "."):
        return None
    return package + "." + module[len(package) + 1:].split(".", 1)[0]


class AcyclicContract(Contract):
    """No module imports itself through others, and no package's children do (``packages``: the roots)."""

    type_name = "acyclic"

    packages = fields.ListField(subfield=fields.StringField())

    def check(self, graph: ImportGraph, verbose: bool) -> ContractCheck:
        modules = sorted(m for p in self.packages for m in {p, *graph.find_descendants(p)})
        imports = {m: {i for i in graph.find_modules_directly_imported_by(m) if i in modules} - {m}
                   for m in modules}
        cycles = [{"level": "modules", "members": c} for c in strongly_connected(modules, imports)]
        for package in modules:
            children = sorted(graph.find_children(package)) if graph.find_children(package) else []
            if len(children) < 2:
                continue
            edges: dict[str, set[str]] = {}
            for importer, imported_set in imports.items():
                source = _top(importer, package)
                for imported in imported_set:
                    target = _top(imported, package)
                    if source and target and source != target:
                        edges.setdefault(source, set()).add(target)
            cycles += [{"level": f"children of {package}", "members": c}
                       for c in strongly_connected(children, edges)
                       if not any(set(c) <= set(k["members"]) for k in cycles)]
        witnesses = []
        for cycle in cycles:
            first, second = cycle["members"][0], cycle["members"][1:]
            there = next((graph.find_shortest_chain(importer=first, imported=m) for m in second
                          if graph.find_shortest_chain(importer=first, imported=m)), None)
            back = graph.find_shortest_chain(importer=there[-1], imported=first) if there else None
            witnesses.append({**cycle, "chain": list(there or ()) + list((back or ())[1:])})
        return ContractCheck(kept=not cycles, metadata={"cycles": witnesses})

    def render_broken_contract(self, check: ContractCheck) -> None:
        for cycle in check.metadata["cycles"]:
            output.print_error(f"A cycle among the {cycle['level']}: {', '.join(cycle['members'])}")
            output.print_error("    " + " -> ".join(cycle["chain"]), bold=False)
            output.new_line()
