"""Typed model of a Cozystack platform bundle (legacy ``releases:`` format) - pure Python, no Django.

Public API (used by the architecture pages, the ``lint_bundle`` command and tests)::

    from architecture.bundle import load_bundle, load_bundle_file, curated_bundle, BundleError
    from architecture.lint import lint, lint_source, exit_code, worst_by_component, Finding, RULES
    from architecture.svg import render_svg

    bundle = load_bundle(text, name="paas-proxmox")  # str or bytes; BundleError with a clear message
    bundle = load_bundle_file(path)          # name = file name without .yaml; I/O errors -> BundleError
    bundle = curated_bundle()                # the portal's own paas-proxmox stack (stack.py data)

    bundle.name, bundle.components           # tuple[Component, ...] in file order (duplicates kept)
    bundle.names()                           # unique names in order
    bundle.get("kamaji")                     # first Component with that name, or None
    bundle.flavour                           # "proxmox" | "kubevirt" | "generic"
    bundle.by_layer()                        # [(stack.Layer, [Component, ...]), ...], bottom layer first
    bundle.edges()                           # [(component, dependency), ...], unique, existing targets
    bundle.dependents("cert-manager")        # names that depend on it
    bundle.to_dict()                         # JSON-ready summary (never the Helm values)

    component.name, .release_name, .chart, .namespace, .privileged, .optional, .depends_on (tuple),
    component.line (1-based, or None), .conditional (inside a Helm if/with block),
    component.role, .role_label, .layer, .description (from stack.py), .problems (parse problems)

    findings = lint(bundle, flavour="auto")  # worst first; flavour auto|proxmox|kubevirt|generic
    finding.rule (= .id), .severity ("error"|"warning"|"info"), .component (or None), .message,
    finding.hint, .line
    exit_code(findings)                      # 0 clean/info only, 1 warnings, 2 errors (3 = unreadable, CLI)
    report = lint_source(text, name=None, flavour="auto")  # for the upload/paste page; never raises
    report.bundle (or None), .error (str or None), .findings, .flavour, .summary, .exit_code, .worst

    svg = render_svg(bundle, links=lambda component: url_or_None, states={"kamaji": "ok"},
                     issues=worst_by_component(findings))   # issues: name -> error|warning|info
    # -> str, a standalone escaped SVG; node ids "node-<name>";
    #    states: "ok" | "degraded" | "down" | "unknown" (None = no state colouring)

    stack.FLOWS["kubevirt"|"proxmox"], stack.COMPARISON, stack.LAYERS, stack.ROLES  # page data

Helm templates: the legacy bundle files are Helm templates. Lines that only hold template actions
(``{{- if ... }}``, ``{{- end }}``, ``{{- $x := ... }}``) are blanked, ``else`` branches are dropped
(the bundle is read as if every condition were true), ``define`` bodies are dropped, and expressions
inside scalars become the placeholder ``__helm__``. Line numbers are preserved. Files that are not a
releases list (v1 platform values, PackageSources, chart values) raise ``BundleError`` with a message
saying what the file looks like.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import yaml

from architecture import stack

MAX_BUNDLE_BYTES = 1_000_000
MAX_RELEASES = 1000  # real bundles have < 100; keeps linting and layout cheap for uploads
PLACEHOLDER = "__helm__"

_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_OPEN = re.compile(r"^\{\{-?\s*(if|with|range|define|block)\b")
_ELSE = re.compile(r"^\{\{-?\s*else\b")
_END = re.compile(r"^\{\{-?\s*end\b")
_MARK = "\x00"


class BundleError(ValueError):
    """The input is not a readable Cozystack releases bundle."""


@dataclass(frozen=True)
class Component:
    name: str
    release_name: str = ""
    chart: str = ""
    namespace: str = ""
    privileged: bool = False
    optional: bool = False
    depends_on: tuple[str, ...] = ()
    line: int | None = None
    conditional: bool = False
    templated: bool = False
    problems: tuple[str, ...] = ()
    duplicate_keys: tuple[str, ...] = ()
    values: Mapping[str, Any] | None = field(default=None, repr=False, compare=False, hash=False)
    description_override: str = field(default="", repr=False)

    @property
    def info(self) -> stack.ComponentInfo:
        return stack.component_info(self.name)

    @property
    def role(self) -> str:
        return self.info.role

    @property
    def role_label(self) -> str:
        return stack.ROLES[self.role].label

    @property
    def layer(self) -> str:
        return stack.ROLE_TO_LAYER[self.role]

    @property
    def description(self) -> str:
        return self.description_override or self.info.description

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "releaseName": self.release_name,
            "chart": self.chart,
            "namespace": self.namespace,
            "privileged": self.privileged,
            "optional": self.optional,
            "dependsOn": list(self.depends_on),
            "line": self.line,
            "conditional": self.conditional,
            "role": self.role,
            "layer": self.layer,
            "description": self.description,
        }


@dataclass(frozen=True)
class Bundle:
    name: str
    components: tuple[Component, ...]
    source: str = ""

    def __iter__(self) -> Iterator[Component]:
        return iter(self.components)

    def __len__(self) -> int:
        return len(self.components)

    def __contains__(self, name: object) -> bool:
        return any(c.name == name for c in self.components)

    def names(self) -> list[str]:
        return list(dict.fromkeys(c.name for c in self.components))

    def get(self, name: str) -> Component | None:
        return next((c for c in self.components if c.name == name), None)

    def unique(self) -> list[Component]:
        """First occurrence of every name, in file order."""
        seen: dict[str, Component] = {}
        for component in self.components:
            seen.setdefault(component.name, component)
        return list(seen.values())

    def matching(self, pattern: str) -> list[Component]:
        return [c for c in self.unique() if fnmatchcase(c.name, pattern)]

    def edges(self) -> list[tuple[str, str]]:
        """(component, dependency) pairs whose dependency exists in the bundle, without repeats."""
        present = set(self.names())
        pairs: dict[tuple[str, str], None] = {}
        for component in self.unique():
            for dep in component.depends_on:
                if dep in present:
                    pairs[(component.name, dep)] = None
        return list(pairs)

    def dependents(self, name: str) -> list[str]:
        return [src for src, dep in self.edges() if dep == name]

    @property
    def flavour(self) -> str:
        return detect_flavour(self)

    def by_layer(self) -> list[tuple[stack.Layer, list[Component]]]:
        """Components grouped by architecture layer (bottom first), ordered by role then name."""
        role_order = {role: i for i, role in enumerate(stack.ROLES)}
        groups: list[tuple[stack.Layer, list[Component]]] = []
        for layer in stack.LAYERS:
            members = [c for c in self.unique() if c.layer == layer.id]
            members.sort(key=lambda c: (role_order[c.role], c.name))
            if members:
                groups.append((layer, members))
        return groups

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "source": self.source,
            "flavour": self.flavour,
            "components": [c.to_dict() for c in self.components],
        }


def detect_flavour(bundle: Bundle) -> str:
    """'proxmox' if the bundle name or a component says so, 'kubevirt' if it has KubeVirt, else 'generic'."""
    if "proxmox" in bundle.name.lower():
        return "proxmox"
    names = bundle.names()
    if any(fnmatchcase(n, marker) for n in names for marker in stack.PROXMOX_MARKERS):
        return "proxmox"
    if any("kubevirt" in n for n in names):
        return "kubevirt"
    return "generic"


# --------------------------------------------------------------------------------------------------
# Helm template neutralisation
# --------------------------------------------------------------------------------------------------


@dataclass
class _Frame:
    kind: str
    drop: bool


def neutralise_templates(text: str) -> tuple[str, frozenset[int]]:
    """Return (YAML text with the same line count, 1-based lines inside if/with blocks)."""
    actions: list[str] = []
    pieces: list[str] = []
    last = 0
    # Plain str.find scanning keeps this linear even for hostile input (a regex would backtrack).
    while (start := text.find("{{", last)) != -1:
        end = text.find("}}", start + 2)
        if end == -1:
            line = text.count("\n", 0, start) + 1
            raise BundleError(f"line {line}: unterminated Helm template action '{{{{'")
        action = text[start : end + 2]
        pieces.append(text[last:start])
        pieces.append(_MARK + "\n" * action.count("\n"))
        actions.append(action)
        last = end + 2
    pieces.append(text[last:])
    marked = "".join(pieces)

    out: list[str] = []
    conditional: set[int] = set()
    stack_: list[_Frame] = []
    index = 0
    for lineno, line in enumerate(marked.split("\n"), start=1):
        count = line.count(_MARK)
        line_actions = actions[index : index + count]
        index += count
        if count and not line.replace(_MARK, "").strip():
            for action in line_actions:
                _apply_action(action, stack_)
            out.append("")
            continue
        if any(frame.drop for frame in stack_):
            out.append("")
            continue
        if any(frame.kind in ("if", "with") for frame in stack_):
            conditional.add(lineno)
        out.append(line.replace(_MARK, PLACEHOLDER))
    return "\n".join(out), frozenset(conditional)


def _apply_action(action: str, frames: list[_Frame]) -> None:
    opened = _OPEN.match(action)
    if opened:
        frames.append(_Frame(opened.group(1), drop=opened.group(1) == "define"))
    elif _ELSE.match(action) and frames:
        frames[-1].drop = True  # keep the first branch only: read the bundle as if conditions were true
    elif _END.match(action) and frames:
        frames.pop()


# --------------------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------------------


def load_bundle(text: str | bytes, name: str | None = None, source: str = "") -> Bundle:
    """Parse a legacy Cozystack bundle (Helm-templated YAML with a ``releases:`` list)."""
    if isinstance(text, bytes):
        if len(text) > MAX_BUNDLE_BYTES:
            raise BundleError(f"bundle is larger than {MAX_BUNDLE_BYTES} bytes")
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise BundleError(f"bundle is not UTF-8 text: {exc}") from exc
    if len(text.encode("utf-8")) > MAX_BUNDLE_BYTES:
        raise BundleError(f"bundle is larger than {MAX_BUNDLE_BYTES} bytes")
    cleaned, conditional_lines = neutralise_templates(text)
    root, data = _parse_yaml(cleaned)
    releases_node, releases = _releases(root, data)
    if len(releases) > MAX_RELEASES:
        raise BundleError(f"bundle has {len(releases)} releases; at most {MAX_RELEASES} are supported")
    components = tuple(
        _component(i, node, entry, conditional_lines)
        for i, (node, entry) in enumerate(zip(releases_node.value, releases, strict=True))
    )
    return Bundle(name=name or "bundle", components=components, source=source)


def load_bundle_file(path: str | Path, name: str | None = None) -> Bundle:
    """Read and parse a bundle file; I/O problems are reported as BundleError too."""
    path = Path(path)
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_BUNDLE_BYTES + 1)
    except OSError as exc:
        raise BundleError(f"cannot read {path}: {exc.strerror or exc}") from exc
    if len(raw) > MAX_BUNDLE_BYTES:
        raise BundleError(f"{path.name} is larger than {MAX_BUNDLE_BYTES} bytes")
    stem = path.name
    for suffix in (".yaml", ".yml"):
        stem = stem.removesuffix(suffix)
    return load_bundle(raw, name=name or stem, source=str(path))


def _parse_yaml(text: str) -> tuple[yaml.Node | None, Any]:
    loader = _YAML_LOADER(text)
    try:
        root = loader.get_single_node()
        data = loader.construct_document(root) if root is not None else None
    except yaml.YAMLError as exc:
        raise BundleError(f"not valid YAML once Helm templates are neutralised: {exc}") from exc
    except RecursionError as exc:
        raise BundleError("YAML nesting is too deep") from exc
    finally:
        loader.dispose()
    return root, data


def _releases(root: yaml.Node | None, data: Any) -> tuple[yaml.SequenceNode, list[Any]]:
    if root is None:
        raise BundleError(
            "not a Cozystack releases bundle: nothing is left once Helm template actions are removed "
            "(a template that only emits objects, such as a v1 bundle of Packages)"
        )
    if not isinstance(root, yaml.MappingNode) or not isinstance(data, dict):
        raise BundleError("not a Cozystack bundle: expected a mapping with a 'releases:' list")
    if "releases" not in data:
        raise BundleError(f"not a Cozystack releases bundle: {_describe(data)}")
    node = next((v for k, v in root.value if isinstance(k, yaml.ScalarNode) and k.value == "releases"), None)
    releases = data["releases"]
    if releases is None:
        releases = []
    if not isinstance(node, yaml.SequenceNode) or not isinstance(releases, list):
        raise BundleError("'releases' must be a list of release entries")
    for entry_node, entry in zip(node.value, releases, strict=True):
        if not isinstance(entry, dict):
            raise BundleError(f"line {entry_node.start_mark.line + 1}: a release entry must be a mapping")
    return node, releases


def _describe(data: dict[str, Any]) -> str:
    keys = ", ".join(sorted(str(k) for k in data)[:8]) or "none"
    if data.get("kind") == "PackageSource":
        return "this is a v1 PackageSource (dependsOn lives in spec.variants), not a releases list"
    if "bundles" in data:
        return "this looks like v1 platform values (bundles.system.variant), not a releases list"
    if data.get("kind") or data.get("apiVersion"):
        return f"this is a Kubernetes object of kind {data.get('kind')!r}, not a releases list"
    return f"no 'releases' key (top-level keys: {keys})"


def _component(index: int, node: yaml.MappingNode, entry: dict[str, Any], conditional: frozenset[int]) -> Component:
    line = node.start_mark.line + 1
    problems: list[str] = []

    def text_field(key: str) -> str:
        value = entry.get(key)
        if value is None:
            problems.append(f"missing '{key}'")
            return ""
        if not isinstance(value, str):
            problems.append(f"'{key}' should be a string, not {_describe_value(value)}")
            return _describe_value(value) if isinstance(value, (list, dict)) else str(value)
        return value

    def bool_field(key: str) -> bool:
        value = entry.get(key, False)
        if value is None:
            return False
        if not isinstance(value, bool):
            problems.append(f"'{key}' should be true or false, not {_describe_value(value)}")
            return isinstance(value, str) and value.lower() == "true"
        return value

    name = text_field("name") or f"<entry {index + 1}>"
    release_name = text_field("releaseName")
    chart = text_field("chart")
    namespace = text_field("namespace")
    depends = entry.get("dependsOn")
    depends_on: list[str] = []
    if depends is None:
        pass
    elif isinstance(depends, list):
        for dep in depends:
            if not isinstance(dep, str):
                problems.append(f"dependsOn item {_describe_value(dep)} is not a name")
            elif PLACEHOLDER not in dep:  # a templated target cannot be checked
                depends_on.append(dep.strip())
    else:
        problems.append("'dependsOn' should be a list")
    keys = [k.value for k, _ in node.value if isinstance(k, yaml.ScalarNode)]
    duplicate_keys = tuple(sorted({k for k in keys if keys.count(k) > 1}))
    values = entry.get("values")
    templated = any(PLACEHOLDER in text for text in (name, release_name, chart, namespace))
    return Component(
        name=name,
        release_name=release_name,
        chart=chart,
        namespace=namespace,
        privileged=bool_field("privileged"),
        optional=bool_field("optional"),
        depends_on=tuple(depends_on),
        line=line,
        conditional=line in conditional,
        templated=templated,
        problems=tuple(problems),
        duplicate_keys=duplicate_keys,
        values=values if isinstance(values, dict) else None,
    )


def _describe_value(value: Any) -> str:
    """Short description of a YAML value; never str() a container (aliases can make it enormous)."""
    if isinstance(value, (list, dict)):
        return f"a {'list' if isinstance(value, list) else 'mapping'}"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def curated_bundle() -> Bundle:
    """The portal's curated paas-proxmox component stack (data in architecture/stack.py)."""
    components = tuple(
        Component(
            name=item.name,
            release_name=item.release_name or item.name,
            chart=item.chart or f"cozy-{item.name}",
            namespace=item.namespace,
            privileged=item.privileged,
            optional=item.optional,
            depends_on=item.depends_on,
            description_override=item.description,
        )
        for item in stack.CURATED_PAAS_PROXMOX
    )
    return Bundle(name=stack.CURATED_NAME, components=components, source="curated")
