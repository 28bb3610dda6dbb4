"""Bundle linter: structural checks plus platform knowledge from architecture/stack.py. Pure Python.

``lint(bundle, flavour="auto") -> list[Finding]`` (worst first), ``exit_code(findings)`` and the CLI
entry point ``main(argv, stdout, stderr) -> int`` used by ``manage.py lint_bundle``.
Rule ids and default severities are in ``RULES``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from fnmatch import fnmatchcase
from typing import TextIO

from architecture import stack
from architecture.bundle import Bundle, BundleError, Component, load_bundle, load_bundle_file

ERROR, WARNING, INFO = "error", "warning", "info"
SEVERITY_RANK = {ERROR: 2, WARNING: 1, INFO: 0}
FLAVOURS = ("auto", "proxmox", "kubevirt", "generic")
EXIT_CLEAN, EXIT_WARNINGS, EXIT_ERRORS, EXIT_UNREADABLE = 0, 1, 2, 3


@dataclass(frozen=True)
class Rule:
    id: str
    severity: str
    title: str


RULES: dict[str, Rule] = {
    rule.id: rule
    for rule in (
        Rule("empty-bundle", ERROR, "The bundle has no releases."),
        Rule("invalid-entry", ERROR, "A release entry lacks name/releaseName/chart/namespace or has bad types."),
        Rule("duplicate-key", WARNING, "A key appears twice in one entry; YAML keeps only the last."),
        Rule("duplicate-entry", ERROR, "The same component name is listed more than once."),
        Rule("duplicate-release", ERROR, "Two entries install the same Helm release (namespace/releaseName)."),
        Rule("dangling-dependency", ERROR, "dependsOn names a component that is not in the bundle."),
        Rule("dependency-cycle", ERROR, "dependsOn forms a cycle (including self-dependency)."),
        Rule("duplicate-dependency", INFO, "dependsOn lists the same target twice."),
        Rule("missing-requirement", ERROR, "A component needs something the bundle lacks (stack.REQUIREMENTS)."),
        Rule(
            "optional-requirement",
            WARNING,
            "A required component needs something only optional entries give.",
        ),
        Rule("undeclared-dependency", INFO, "A requirement is present but not reachable through dependsOn."),
        Rule("optional-dependency", WARNING, "A required entry depends on an optional one."),
        Rule(
            "core-component-missing",
            WARNING,
            "Cozystack core (cozystack-controller, cert-manager) is missing.",
        ),
        Rule("gitops-missing", INFO, "FluxCD is not in the bundle (warning in Proxmox bundles)."),
        Rule("kubevirt-in-proxmox", ERROR, "KubeVirt-bound component in a Proxmox bundle (severity per part)."),
        Rule(
            "proxmox-essential-missing",
            ERROR,
            "Proxmox essential missing: CSI, CCM, capmox, IPAM or MetalLB.",
        ),
        Rule(
            "proxmox-essential-unclear",
            WARNING,
            "A Proxmox essential is only possibly provided by a generic chart.",
        ),
        Rule("optional-essential", WARNING, "A core or Proxmox essential component is marked optional."),
    )
}


@dataclass(frozen=True)
class Finding:
    rule: str
    severity: str
    component: str | None
    message: str
    hint: str
    line: int | None = None

    @property
    def id(self) -> str:
        return self.rule

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def _finding(rule: str, component: Component | None, message: str, hint: str, severity: str = "") -> Finding:
    return Finding(
        rule=rule,
        severity=severity or RULES[rule].severity,
        component=component.name if component else None,
        message=message,
        hint=hint,
        line=component.line if component else None,
    )


def lint(bundle: Bundle, flavour: str = "auto") -> list[Finding]:
    """Run every rule; flavour 'auto' detects Proxmox bundles (name or proxmox components)."""
    if flavour not in FLAVOURS:
        raise ValueError(f"flavour must be one of {FLAVOURS}, not {flavour!r}")
    effective = bundle.flavour if flavour == "auto" else flavour
    if not bundle.components:
        return [_finding("empty-bundle", None, "The bundle has no releases.", "List the platform components.")]
    findings: list[Finding] = []
    for check in (_entries, _duplicates, _dependencies, _cycles, _requirements, _optional_dependencies):
        findings.extend(check(bundle))
    findings.extend(_core(bundle, effective))
    if effective == "proxmox":
        findings.extend(_kubevirt_in_proxmox(bundle))
        findings.extend(_proxmox_essentials(bundle))
    return sort_findings(findings)


def sort_findings(findings: Iterable[Finding]) -> list[Finding]:
    return sorted(
        findings,
        key=lambda f: (-SEVERITY_RANK[f.severity], f.line if f.line is not None else 10**9, f.rule),
    )


def worst_severity(findings: Iterable[Finding]) -> str | None:
    ranks = [SEVERITY_RANK[f.severity] for f in findings]
    if not ranks:
        return None
    return {rank: name for name, rank in SEVERITY_RANK.items()}[max(ranks)]


def worst_by_component(findings: Iterable[Finding]) -> dict[str, str]:
    """Worst severity per component name (for marking nodes in the SVG graph)."""
    worst: dict[str, str] = {}
    for finding in findings:
        if finding.component is None:
            continue
        current = worst.get(finding.component)
        if current is None or SEVERITY_RANK[finding.severity] > SEVERITY_RANK[current]:
            worst[finding.component] = finding.severity
    return worst


def exit_code(findings: Iterable[Finding]) -> int:
    worst = worst_severity(findings)
    return {ERROR: EXIT_ERRORS, WARNING: EXIT_WARNINGS}.get(worst or "", EXIT_CLEAN)


# --------------------------------------------------------------------------------------------------
# Rules
# --------------------------------------------------------------------------------------------------


def _entries(bundle: Bundle) -> Iterable[Finding]:
    for component in bundle.components:
        for problem in component.problems:
            yield _finding(
                "invalid-entry",
                component,
                f"Entry '{component.name}': {problem}.",
                "Every release needs name, releaseName, chart and namespace; dependsOn is a list of names.",
            )
        for key in component.duplicate_keys:
            yield _finding(
                "duplicate-key",
                component,
                f"'{key}' appears more than once in '{component.name}'; only the last value counts.",
                f"Merge the '{key}' entries into one.",
            )


def _duplicates(bundle: Bundle) -> Iterable[Finding]:
    counts = Counter(c.name for c in bundle.components)
    for name, count in counts.items():
        if count < 2:
            continue
        occurrences = [c for c in bundle.components if c.name == name]
        lines = ", ".join(str(c.line) for c in occurrences if c.line)
        identical = len({(c.release_name, c.chart, c.namespace, c.depends_on) for c in occurrences}) == 1
        detail = "identical copies" if identical else "with different settings"
        yield _finding(
            "duplicate-entry",
            occurrences[1],
            f"'{name}' is listed {count} times ({detail}{'; lines ' + lines if lines else ''}).",
            f"Keep one '{name}' entry; two entries would fight over one HelmRelease.",
        )
    seen: dict[tuple[str, str], Component] = {}
    for component in bundle.components:
        key = (component.namespace, component.release_name)
        if not all(key):
            continue
        first = seen.setdefault(key, component)
        if first is not component and first.name != component.name:
            yield _finding(
                "duplicate-release",
                component,
                f"'{component.name}' and '{first.name}' both install release '{key[1]}' in namespace '{key[0]}'.",
                "Give each entry its own releaseName (or namespace), or drop one of them.",
            )


def _dependencies(bundle: Bundle) -> Iterable[Finding]:
    present = set(bundle.names())
    for component in bundle.unique():
        for dep, count in Counter(component.depends_on).items():
            if count > 1:
                yield _finding(
                    "duplicate-dependency",
                    component,
                    f"'{component.name}' lists '{dep}' {count} times in dependsOn.",
                    "List each dependency once.",
                )
            if dep not in present and dep != component.name:
                yield _finding(
                    "dangling-dependency",
                    component,
                    f"'{component.name}' depends on '{dep}', which is not in the bundle.",
                    f"Add a '{dep}' release or remove it from dependsOn of '{component.name}'.",
                )


def _cycles(bundle: Bundle) -> Iterable[Finding]:
    graph = {c.name: [d for d in c.depends_on if d in bundle] for c in bundle.unique()}
    for members in strongly_connected(graph):
        first = members[0]
        if len(members) == 1 and first not in graph[first]:
            continue
        path = _cycle_path(graph, first, set(members))
        yield _finding(
            "dependency-cycle",
            bundle.get(first),
            f"Dependency cycle: {' -> '.join(path)}.",
            "Remove one dependsOn edge of the cycle; Flux can never make these releases ready.",
        )


def strongly_connected(graph: dict[str, list[str]]) -> list[list[str]]:
    """Tarjan's algorithm (iterative); components keep the graph's insertion order."""
    order = {name: i for i, name in enumerate(graph)}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack_: list[str] = []
    result: list[list[str]] = []
    counter = 0
    for root in graph:
        if root in index:
            continue
        work: list[tuple[str, int]] = [(root, 0)]
        while work:
            node, child = work.pop()
            if child == 0:
                index[node] = low[node] = counter
                counter += 1
                stack_.append(node)
                on_stack.add(node)
            recurse = False
            targets = graph[node]
            while child < len(targets):
                target = targets[child]
                child += 1
                if target not in index:
                    work.append((node, child))
                    work.append((target, 0))
                    recurse = True
                    break
                if target in on_stack:
                    low[node] = min(low[node], index[target])
            if recurse:
                continue
            if low[node] == index[node]:
                members: list[str] = []
                while True:
                    member = stack_.pop()
                    on_stack.discard(member)
                    members.append(member)
                    if member == node:
                        break
                result.append(sorted(members, key=order.__getitem__))
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
    return result


def _cycle_path(graph: dict[str, list[str]], start: str, members: set[str]) -> list[str]:
    """Shortest path start -> ... -> start inside one strongly connected component (BFS)."""
    previous: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following: list[str] = []
        for node in frontier:
            for target in graph[node]:
                if target not in members:
                    continue
                if target == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(previous[path[-1]])
                    return [start, *reversed(path[:-1]), start] if node != start else [start, start]
                if target not in previous:
                    previous[target] = node
                    following.append(target)
        frontier = following
    return [start, start]


def _closure(bundle: Bundle, name: str) -> set[str]:
    """Everything ``name`` depends on, directly or transitively."""
    graph = {c.name: c.depends_on for c in bundle.unique()}
    seen: set[str] = set()
    todo = list(graph.get(name, ()))
    while todo:
        dep = todo.pop()
        if dep not in seen:
            seen.add(dep)
            todo.extend(graph.get(dep, ()))
    return seen


def _providers(bundle: Bundle, alternatives: Sequence[str], exclude: str = "") -> list[Component]:
    return [c for c in bundle.unique() if c.name != exclude and any(fnmatchcase(c.name, alt) for alt in alternatives)]


def _requirements(bundle: Bundle) -> Iterable[Finding]:
    for component in bundle.unique():
        for req in stack.requirements_for(component.name):
            providers = _providers(bundle, req.alternatives, exclude=component.name)
            options = ", ".join(req.alternatives)
            if not providers:
                yield _finding(
                    "missing-requirement",
                    component,
                    f"'{component.name}' needs {req.capability} ({options}) but the bundle has none: {req.why}.",
                    f"Add '{req.alternatives[0]}' and list it in dependsOn of '{component.name}'.",
                )
                continue
            if not component.optional and all(p.optional for p in providers):
                yield _finding(
                    "optional-requirement",
                    component,
                    f"'{component.name}' is required but {req.capability} comes only from optional "
                    f"{', '.join(p.name for p in providers)}.",
                    "Make the provider required or mark this component optional as well.",
                )
            reachable = _closure(bundle, component.name)
            if not any(p.name in reachable for p in providers):
                yield _finding(
                    "undeclared-dependency",
                    component,
                    f"'{component.name}' needs {req.capability} ('{providers[0].name}' is present) but does "
                    "not depend on it, directly or indirectly; install order is not guaranteed.",
                    f"Add '{providers[0].name}' to dependsOn of '{component.name}'.",
                )


def _optional_dependencies(bundle: Bundle) -> Iterable[Finding]:
    by_name = {c.name: c for c in bundle.unique()}
    for component in bundle.unique():
        if component.optional:
            continue
        for dep in dict.fromkeys(component.depends_on):
            target = by_name.get(dep)
            if target is not None and target.optional:
                yield _finding(
                    "optional-dependency",
                    component,
                    f"Required '{component.name}' depends on optional '{dep}'; if '{dep}' is disabled, "
                    f"'{component.name}' never becomes ready.",
                    f"Mark '{dep}' required, or '{component.name}' optional, or drop the dependency.",
                )


def _core(bundle: Bundle, flavour: str) -> Iterable[Finding]:
    for name, why in stack.CORE_COMPONENTS:
        present = bundle.get(name)
        if present is None:
            yield _finding(
                "core-component-missing",
                None,
                f"Core component '{name}' is missing: {why}.",
                f"Add a '{name}' release.",
            )
        elif present.optional:
            yield _finding(
                "optional-essential",
                present,
                f"Core component '{name}' is marked optional.",
                "Remove 'optional: true'.",
            )
    if not any(name in bundle for name in stack.GITOPS_COMPONENTS):
        yield _finding(
            "gitops-missing",
            None,
            "FluxCD (fluxcd-operator/fluxcd) is not in the bundle; every release is a Flux HelmRelease.",
            "Add fluxcd-operator and fluxcd (as the upstream paas-proxmox bundle does) or make sure the "
            "installer provides Flux.",
            severity=WARNING if flavour == "proxmox" else INFO,
        )


def _kubevirt_in_proxmox(bundle: Bundle) -> Iterable[Finding]:
    for component in bundle.unique():
        binding = stack.kubevirt_binding(component.name)
        if binding is None:
            continue
        yield _finding(
            "kubevirt-in-proxmox",
            component,
            f"'{component.name}' is KubeVirt-bound in a Proxmox bundle: {binding.reason}.",
            "Remove it; on Proxmox, VMs come from capmox or the Proxmox API (see the provisioning flows).",
            severity=binding.severity,
        )


def _proxmox_essentials(bundle: Bundle) -> Iterable[Finding]:
    for essential in stack.PROXMOX_ESSENTIALS:
        providers = _providers(bundle, essential.provided_by)
        weak = _providers(bundle, essential.weakly_provided_by)
        if providers:
            if all(p.optional for p in providers):
                yield _finding(
                    "optional-essential",
                    providers[0],
                    f"{essential.label} comes only from optional '{providers[0].name}'.",
                    "Remove 'optional: true'; a Proxmox platform cannot work without it.",
                )
            continue
        if weak:
            yield _finding(
                "proxmox-essential-unclear",
                weak[0],
                f"{essential.label}: only the generic '{weak[0].name}' chart could provide it; the bundle "
                f"does not show that it does ({essential.why}).",
                essential.hint,
            )
            continue
        yield _finding(
            "proxmox-essential-missing",
            None,
            f"{essential.label} is missing: {essential.why}.",
            essential.hint,
        )


@dataclass(frozen=True)
class LintReport:
    """Result of linting pasted/uploaded text: either a bundle with findings, or a readable error."""

    bundle: Bundle | None
    findings: tuple[Finding, ...]
    flavour: str
    error: str | None = None

    @property
    def exit_code(self) -> int:
        return EXIT_UNREADABLE if self.error else exit_code(self.findings)

    @property
    def summary(self) -> dict[str, int]:
        return summary(self.findings)

    @property
    def worst(self) -> str | None:
        return worst_severity(self.findings)


def lint_source(text: str | bytes, name: str | None = None, flavour: str = "auto") -> LintReport:
    """Parse and lint bundle text (the admin upload/paste page); never raises for bad input."""
    try:
        bundle = load_bundle(text, name=name or "uploaded bundle", source="upload")
    except BundleError as exc:
        return LintReport(bundle=None, findings=(), flavour=flavour, error=str(exc))
    effective = bundle.flavour if flavour == "auto" else flavour
    return LintReport(bundle=bundle, findings=tuple(lint(bundle, flavour)), flavour=effective)


# --------------------------------------------------------------------------------------------------
# Output and CLI
# --------------------------------------------------------------------------------------------------


def summary(findings: Iterable[Finding]) -> dict[str, int]:
    counts = Counter(f.severity for f in findings)
    return {severity: counts.get(severity, 0) for severity in (ERROR, WARNING, INFO)}


def format_table(bundle: Bundle, findings: Sequence[Finding], flavour: str) -> str:
    lines = [f"{bundle.name}: {len(bundle.components)} entries, flavour {flavour}"]
    if findings:
        rows = [(f.severity, f.rule, f.component or "-", str(f.line or "-"), f.message) for f in findings]
        widths = [max(len(r[i]) for r in [*rows, ("SEVERITY", "RULE", "ENTRY", "LINE", "")]) for i in range(4)]
        header = ("SEVERITY", "RULE", "ENTRY", "LINE", "MESSAGE")
        lines.append("  ".join(h.ljust(w) for h, w in zip(header, [*widths, 0], strict=True)).rstrip())
        for row, finding in zip(rows, findings, strict=True):
            lines.append("  ".join(cell.ljust(w) for cell, w in zip(row, [*widths, 0], strict=True)).rstrip())
            lines.append(" " * (sum(widths) + 8) + f"fix: {finding.hint}")
    else:
        lines.append("No findings.")
    counts = summary(findings)
    lines.append(f"{counts[ERROR]} error(s), {counts[WARNING]} warning(s), {counts[INFO]} info")
    return "\n".join(lines) + "\n"


def format_json(bundle: Bundle, findings: Sequence[Finding], flavour: str) -> str:
    document = {
        "bundle": bundle.name,
        "source": bundle.source,
        "flavour": flavour,
        "entries": len(bundle.components),
        "findings": [f.to_dict() for f in findings],
        "summary": summary(findings),
        "exit_code": exit_code(findings),
    }
    return json.dumps(document, indent=2) + "\n"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", help="bundle file (Cozystack legacy releases format); '-' reads stdin")
    parser.add_argument("--format", choices=("table", "json"), default="table", dest="output_format")
    parser.add_argument("--flavour", choices=FLAVOURS, default="auto", help="force rules for a platform flavour")
    parser.add_argument("--name", default=None, help="bundle name (default: the file name)")


def run(
    file: str,
    output_format: str = "table",
    flavour: str = "auto",
    name: str | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
    stdin: TextIO | None = None,
) -> int:
    """Lint one file and print the report; returns the exit code (0/1/2, 3 unreadable)."""
    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    try:
        if file == "-":
            source = stdin or sys.stdin
            bundle = load_bundle(source.read(), name=name or "stdin", source="-")
        else:
            bundle = load_bundle_file(file, name=name)
    except BundleError as exc:
        if output_format == "json":
            stdout.write(json.dumps({"source": file, "error": str(exc), "exit_code": EXIT_UNREADABLE}) + "\n")
        stderr.write(f"lint_bundle: {file}: {exc}\n")
        return EXIT_UNREADABLE
    findings = lint(bundle, flavour)
    effective = bundle.flavour if flavour == "auto" else flavour
    render = format_json if output_format == "json" else format_table
    stdout.write(render(bundle, findings, effective))
    return exit_code(findings)


def main(argv: Sequence[str] | None = None, stdout: TextIO | None = None, stderr: TextIO | None = None) -> int:
    parser = argparse.ArgumentParser(prog="lint_bundle", description="Lint a Cozystack platform bundle.")
    add_arguments(parser)
    args = parser.parse_args(argv)
    return run(args.file, args.output_format, args.flavour, args.name, stdout=stdout, stderr=stderr)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
