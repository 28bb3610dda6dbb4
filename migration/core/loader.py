"""Safe, bounded loading of YAML/JSON manifests into plain documents.

Only ``yaml.CSafeLoader`` (or the pure-Python SafeLoader) is used; timestamps, binary and set tags stay plain
data so every document can be re-emitted as JSON. Limits cap the input size, the number of documents and the
expansion of YAML aliases (the "billion laughs" bomb), and recursive aliases are refused.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

import yaml

from .errors import InputError

_BaseLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_BaseLoader):  # type: ignore[misc, valid-type]
    """Safe loader that keeps timestamps as strings and never builds non-JSON types."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in _BaseLoader.yaml_implicit_resolvers.items()
}


def _construct_plain_scalar(loader: yaml.SafeLoader, node: yaml.Node) -> str:
    return loader.construct_scalar(node)


def _construct_plain_mapping(loader: yaml.SafeLoader, node: yaml.Node) -> dict:
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node)
    # !!omap / !!pairs are sequences of one-entry mappings
    result: dict = {}
    for item in node.value:
        result.update(loader.construct_mapping(item))
    return result


for _tag in ("timestamp", "binary"):
    _Loader.add_constructor(f"tag:yaml.org,2002:{_tag}", _construct_plain_scalar)
for _tag in ("set", "omap", "pairs"):
    _Loader.add_constructor(f"tag:yaml.org,2002:{_tag}", _construct_plain_mapping)


@dataclass(frozen=True)
class Limits:
    """Resource limits applied while loading untrusted text."""

    max_bytes: int = 64 * 1024 * 1024
    max_documents: int = 50_000
    max_alias_nodes: int = 200_000  # nodes a single document may expand to when it uses aliases
    max_replicas: int = 1_000


DEFAULT_LIMITS = Limits()


@dataclass
class Document:
    """One Kubernetes object from the input (``List`` items and ``Template`` objects are unwrapped)."""

    body: dict
    index: int
    source: str = "<input>"
    path: str = ""  # prefix inside the physical document, e.g. "items[2]"
    uid: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def kind(self) -> str:
        kind = self.body.get("kind")
        return kind if isinstance(kind, str) else ""

    @property
    def api_version(self) -> str:
        value = self.body.get("apiVersion")
        return value if isinstance(value, str) else ""

    @property
    def metadata(self) -> dict:
        meta = self.body.get("metadata")
        return meta if isinstance(meta, dict) else {}

    @property
    def name(self) -> str:
        name = self.metadata.get("name")
        return name if isinstance(name, str) else ""

    @property
    def namespace(self) -> str:
        namespace = self.metadata.get("namespace")
        return namespace if isinstance(namespace, str) else ""

    def error(self, message: str, path: str = "") -> InputError:
        full = f"{self.path}.{path}" if self.path and path else (self.path or path)
        return InputError(message, full, self.index, self.source)


_SERVER_METADATA = ("managedFields", "resourceVersion", "generation", "selfLink", "creationTimestamp")
_LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
_PARAM = re.compile(r"\$\{([A-Za-z0-9_]+)\}")
# A YAML anchor starts after whitespace, a flow indicator or the line start ("&&" and "a=1&b" are not anchors);
# false positives only cost the expansion check, never correctness.
_ANCHOR = re.compile(r"(?:^|[\s\[\{,])&[^\s\[\]\{\},&]")


def load_documents(text: str | bytes, limits: Limits = DEFAULT_LIMITS, source: str = "<input>") -> list[Document]:
    """Parse ``text`` (YAML stream or JSON) into cleaned documents; raise InputError on anything hostile."""
    if isinstance(text, bytes | bytearray):
        if len(text) > limits.max_bytes:
            raise _too_big(len(text), limits, source)
        try:
            text = bytes(text).decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise InputError(f"input is not UTF-8 ({exc.reason} at byte {exc.start})", source=source) from None
    elif len(text) > limits.max_bytes:
        raise _too_big(len(text), limits, source)
    raw = _parse(text, limits, source)
    check_aliases = "*" in text and _ANCHOR.search(text) is not None
    documents: list[Document] = []
    for position, body in enumerate(raw):
        if check_aliases:
            _check_expansion(body, limits, position, source)
        _unwrap(body, position, source, "", documents, limits)
    return documents


def _too_big(size: int, limits: Limits, source: str) -> InputError:
    return InputError(f"input is {size} bytes, over the limit of {limits.max_bytes} bytes", source=source)


def _parse(text: str, limits: Limits, source: str) -> list:
    stripped = text.lstrip()
    if stripped[:1] in ("{", "["):
        try:
            data = json.loads(text)
        except RecursionError:
            raise InputError("JSON nesting too deep", source=source) from None
        except ValueError:
            data = None  # maybe YAML flow syntax; let the YAML parser report errors
        else:
            docs = data if isinstance(data, list) else [data]
            if len(docs) > limits.max_documents:
                raise _too_many(limits, source)
            return [_require_object(doc, i, source) for i, doc in enumerate(docs)]
    docs: list = []
    try:
        for doc in yaml.load_all(text, Loader=_Loader):  # noqa: S506 - _Loader derives from (C)SafeLoader
            if doc is None:
                continue
            if len(docs) >= limits.max_documents:
                raise _too_many(limits, source)
            docs.append(_require_object(doc, len(docs), source))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f" at line {mark.line + 1} column {mark.column + 1}" if mark else ""
        problem = exc.problem or exc.context or "invalid YAML"
        raise InputError(f"YAML syntax error{where}: {problem}", document=len(docs), source=source) from None
    except yaml.YAMLError as exc:
        raise InputError(f"YAML error: {exc}", document=len(docs), source=source) from None
    except (ValueError, OverflowError, RecursionError, TypeError) as exc:
        raise InputError(f"unloadable value: {str(exc)[:200]}", document=len(docs), source=source) from None
    return docs


def _too_many(limits: Limits, source: str) -> InputError:
    return InputError(f"more than {limits.max_documents} documents", source=source)


def _require_object(doc: object, index: int, source: str) -> dict:
    if not isinstance(doc, dict):
        raise InputError(f"document is a {type(doc).__name__}, expected an object", document=index, source=source)
    return doc


def _check_expansion(root: object, limits: Limits, index: int, source: str) -> None:
    """Count nodes as if every alias were expanded; refuse bombs and recursive aliases."""
    budget = limits.max_alias_nodes
    sizes: dict[int, int] = {}
    active: set[int] = set()

    def size(node: object) -> int:
        if not isinstance(node, dict | list):
            return 1
        key = id(node)
        known = sizes.get(key)
        if known is not None:
            return known
        if key in active:
            raise InputError("recursive YAML alias", document=index, source=source)
        active.add(key)
        total = 1
        for child in node.values() if isinstance(node, dict) else node:
            total += size(child)
            if total > budget:
                raise InputError(
                    f"YAML aliases expand to more than {budget} nodes (alias bomb?)",
                    document=index,
                    source=source,
                )
        active.discard(key)
        sizes[key] = total
        return total

    try:
        size(root)
    except RecursionError:
        raise InputError("document nesting too deep", document=index, source=source) from None


def _clean(body: dict) -> tuple[dict, str]:
    """Shallow copy without status/managedFields/other server-populated fields; returns (body, uid)."""
    meta = body.get("metadata")
    uid = ""
    if "status" in body or isinstance(meta, dict):
        body = {k: v for k, v in body.items() if k != "status"}
    if isinstance(meta, dict):
        uid = meta.get("uid") if isinstance(meta.get("uid"), str) else ""
        cleaned = {k: v for k, v in meta.items() if k not in _SERVER_METADATA and k != "uid"}
        annotations = cleaned.get("annotations")
        if isinstance(annotations, dict) and _LAST_APPLIED in annotations:
            cleaned["annotations"] = {k: v for k, v in annotations.items() if k != _LAST_APPLIED}
        body["metadata"] = cleaned
    return body, uid


def _unwrap(body: dict, index: int, source: str, prefix: str, out: list[Document], limits: Limits) -> None:
    kind = body.get("kind")
    items = body.get("items")
    if isinstance(kind, str) and kind.endswith("List") and isinstance(items, list):
        for i, item in enumerate(items):
            path = f"{prefix}items[{i}]"
            if not isinstance(item, dict):
                raise InputError("list item is not an object", path, index, source)
            _unwrap(item, index, source, path + ".", out, limits)
        return
    if kind == "Template" and str(body.get("apiVersion", "")).startswith("template.openshift.io"):
        objects = body.get("objects")
        if not isinstance(objects, list):
            raise InputError("expected a list", f"{prefix}objects", index, source)
        values = _template_values(body.get("parameters"))
        for i, obj in enumerate(objects):
            path = f"{prefix}objects[{i}]"
            if not isinstance(obj, dict):
                raise InputError("template object is not an object", path, index, source)
            _unwrap(_substitute(obj, values), index, source, path + ".", out, limits)
        return
    if len(out) >= limits.max_documents:
        raise _too_many(limits, source)
    cleaned, uid = _clean(body)
    out.append(Document(cleaned, index, source, prefix.rstrip("."), uid))


def _template_values(parameters: object) -> dict[str, str]:
    values: dict[str, str] = {}
    if isinstance(parameters, list):
        for param in parameters:
            if isinstance(param, dict) and isinstance(param.get("name"), str) and "value" in param:
                values[param["name"]] = str(param["value"])
    return values


def _substitute(node: object, values: dict[str, str]) -> object:
    """Replace ``${PARAM}`` with parameter values that the Template defines (generated ones stay)."""
    if isinstance(node, str):
        if "${" not in node:
            return node
        return _PARAM.sub(lambda m: values.get(m.group(1), m.group(0)), node)
    if isinstance(node, dict):
        return {k: _substitute(v, values) for k, v in node.items()}
    if isinstance(node, list):
        return [_substitute(v, values) for v in node]
    return node
