"""managedFields bookkeeping and server-side apply merging.

A field set is a set of paths; a path is a tuple of FieldsV1 path elements, exactly as they appear in
``managedFields[].fieldsV1``: ``f:<field>``, ``k:<json keys>`` (item of an ``x-kubernetes-list-type: map`` list) and
``v:<json value>`` (element of a ``set`` list). Lists without a list type (or without a schema) are atomic: the
whole list is one field. metadata.finalizers is a set and metadata.ownerReferences a map keyed by uid, as upstream.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

Path = tuple[str, ...]
METADATA_TRACKED = ("labels", "annotations", "finalizers", "ownerReferences")
METADATA_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
        "annotations": {"type": "object", "additionalProperties": {"type": "string"}},
        "finalizers": {"type": "array", "items": {"type": "string"}, "x-kubernetes-list-type": "set"},
        "ownerReferences": {
            "type": "array",
            "items": {"type": "object"},
            "x-kubernetes-list-type": "map",
            "x-kubernetes-list-map-keys": ["uid"],
        },
    },
}
_MISSING = object()


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


@dataclass
class ManagerEntry:
    manager: str
    operation: str  # "Apply" or "Update"
    api_version: str
    time: str
    subresource: str = ""
    fields: set[Path] = field(default_factory=set)

    def key(self) -> tuple[str, str, str]:
        return (self.manager, self.operation, self.subresource)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "manager": self.manager,
            "operation": self.operation,
            "apiVersion": self.api_version,
            "time": self.time,
            "fieldsType": "FieldsV1",
            "fieldsV1": encode_fields(self.fields),
        }
        if self.subresource:
            out["subresource"] = self.subresource
        return out


def tracked_view(obj: dict[str, Any], subresource: str, status_separate: bool) -> dict[str, Any]:
    """The part of an object whose fields a manager of ``subresource`` can own."""
    if subresource == "status":
        return {"status": obj["status"]} if "status" in obj else {}
    view = {k: v for k, v in obj.items() if k not in ("apiVersion", "kind", "metadata")}
    if status_separate:
        view.pop("status", None)
    meta = obj.get("metadata") or {}
    tracked_meta = {k: meta[k] for k in METADATA_TRACKED if k in meta}
    if tracked_meta:
        view["metadata"] = tracked_meta
    return view


# ---- schema-aware paths -------------------------------------------------------------------------------


def _child_schema(node: dict[str, Any] | None, key: str, root: bool) -> dict[str, Any] | None:
    if root and key == "metadata":
        return METADATA_SCHEMA
    if not node:
        return None
    sub = (node.get("properties") or {}).get(key)
    if sub is None and isinstance(node.get("additionalProperties"), dict):
        sub = node["additionalProperties"]
    return sub


def _list_type(node: dict[str, Any] | None) -> str:
    return (node or {}).get("x-kubernetes-list-type") or "atomic"


def _item_key(item: Any, keys: list[str]) -> str | None:
    if not isinstance(item, dict) or not keys or any(k not in item for k in keys):
        return None
    return "k:" + _json({k: item[k] for k in keys})


def leaves(value: Any, schema: dict[str, Any] | None = None, prefix: Path = (), root: bool = True) -> set[Path]:
    """Every field of ``value``; list-map items also contribute their own path (the item itself)."""
    if isinstance(value, dict) and value:
        out: set[Path] = set()
        for key, sub in value.items():
            out |= leaves(sub, _child_schema(schema, key, root), (*prefix, f"f:{key}"), root=False)
        return out
    list_type = _list_type(schema)
    if isinstance(value, list) and value and list_type in ("map", "set"):
        out = set()
        keys = list(schema.get("x-kubernetes-list-map-keys") or [])
        for item in value:
            if list_type == "set":
                out.add((*prefix, "v:" + _json(item)))
                continue
            element = _item_key(item, keys)
            if element is None:
                return {prefix}  # malformed item: fall back to an atomic list
            out.add((*prefix, element))
            out |= leaves(item, schema.get("items"), (*prefix, element), root=False)
        return out
    return {prefix} if prefix else set()


def _find_item(items: list[Any], element: str) -> int | None:
    if element.startswith("v:"):
        wanted = json.loads(element[2:])
        return next((i for i, item in enumerate(items) if item == wanted), None)
    keys = json.loads(element[2:])
    for index, item in enumerate(items):
        if isinstance(item, dict) and all(k in item and item[k] == v for k, v in keys.items()):
            return index
    return None


def _step(node: Any, element: str) -> Any:
    if element.startswith("f:"):
        return node.get(element[2:], _MISSING) if isinstance(node, dict) else _MISSING
    if not isinstance(node, list):
        return _MISSING
    index = _find_item(node, element)
    return _MISSING if index is None else node[index]


def get_path(obj: Any, path: Path) -> Any:
    node = obj
    for element in path:
        node = _step(node, element)
        if node is _MISSING:
            return _MISSING
    return node


def _ensure_child(node: Any, element: str, next_element: str | None) -> Any:
    """Walk one element down, creating the container (or list item) when it is missing."""
    empty: Any = [] if next_element and next_element[:2] in ("k:", "v:") else {}
    if element.startswith("f:"):
        key = element[2:]
        if not isinstance(node.get(key), type(empty)):
            node[key] = empty
        return node[key]
    index = _find_item(node, element)
    if index is None:
        node.append(json.loads(element[2:]))  # a new list-map item starts with its key fields
        index = len(node) - 1
    return node[index]


def set_path(obj: dict[str, Any], path: Path, value: Any) -> None:
    node: Any = obj
    for position, element in enumerate(path[:-1]):
        node = _ensure_child(node, element, path[position + 1])
    last = path[-1]
    if last.startswith("f:"):
        node[last[2:]] = value
    elif _find_item(node, last) is None:
        node.append(value if last.startswith("v:") else json.loads(last[2:]))


def _is_key_field(path: Path) -> bool:
    """A key field of a list-map item: it lives as long as the item does."""
    return len(path) >= 2 and path[-2].startswith("k:") and path[-1][2:] in json.loads(path[-2][2:])


def delete_path(obj: dict[str, Any], path: Path, keep: set[Path]) -> None:
    """Delete ``path``, then every container left empty by it, unless a manager still owns that container."""
    parents: list[tuple[Any, str]] = []
    node: Any = obj
    for element in path[:-1]:
        parents.append((node, element))
        node = _step(node, element)
        if node is _MISSING:
            return
    _remove(node, path[-1])
    for depth in range(len(parents) - 1, -1, -1):
        parent, element = parents[depth]
        child = _step(parent, element)
        if child in ({}, []) and path[: depth + 1] not in keep and not element.startswith("k:"):
            _remove(parent, element)
        else:
            break


def _remove(node: Any, element: str) -> None:
    if element.startswith("f:"):
        if isinstance(node, dict):
            node.pop(element[2:], None)
    elif isinstance(node, list):
        index = _find_item(node, element)
        if index is not None:
            del node[index]


# ---- FieldsV1 encoding ------------------------------------------------------------------------------


def encode_fields(paths: Iterable[Path]) -> dict[str, Any]:
    tree: dict[str, Any] = {}
    ordered = sorted(set(paths))
    for path in ordered:
        node = tree
        for element in path:
            node = node.setdefault(element, {})
    # A path that is owned and also has owned children carries the "." marker.
    for path in ordered:
        node = tree
        for element in path:
            node = node[element]
        if any(k != "." for k in node):
            node["."] = {}
    return tree


def decode_fields(tree: dict[str, Any], prefix: Path = ()) -> set[Path]:
    out: set[Path] = set()
    children = [k for k in tree if k != "."]
    if prefix and (not children or "." in tree):
        out.add(prefix)
    for key in children:
        if key[:2] in ("f:", "k:", "v:"):
            out |= decode_fields(tree[key] or {}, (*prefix, key))
        elif prefix:
            out.add(prefix)  # i:<index> (unkeyed granular lists) collapses to the whole list
    return out


def decode_entries(managed: list[dict[str, Any]] | None) -> list[ManagerEntry]:
    return [
        ManagerEntry(
            manager=item.get("manager", ""),
            operation=item.get("operation", "Update"),
            api_version=item.get("apiVersion", ""),
            time=item.get("time", ""),
            subresource=item.get("subresource", ""),
            fields=decode_fields(item.get("fieldsV1") or {}),
        )
        for item in managed or []
    ]


def entries_to_list(entries: list[ManagerEntry]) -> list[dict[str, Any]]:
    return [e.to_dict() for e in entries]


# ---- ownership changes ------------------------------------------------------------------------------


def _is_marker(path: Path) -> bool:
    return bool(path) and path[-1][:2] in ("k:", "v:")


def _differs(path: Path, live: Any, applied: Any) -> bool:
    if _is_marker(path):
        return False  # owning a list item (or set element) never conflicts; its fields might
    if applied == {} and isinstance(live, dict):
        return False  # an empty map in an applied config claims the map, not its content
    return live != applied


def _changed(path: Path, old_view: dict[str, Any], new_view: dict[str, Any]) -> bool:
    old, new = get_path(old_view, path), get_path(new_view, path)
    if _is_marker(path):
        return old is _MISSING
    return old != new


def record_update(
    entries: list[ManagerEntry],
    old_view: dict[str, Any],
    new_view: dict[str, Any],
    manager: str,
    api_version: str,
    subresource: str,
    now: str,
    schema: dict[str, Any] | None = None,
) -> list[ManagerEntry]:
    """A non-apply write: the writer takes every field it changed; removed fields leave every owner."""
    old_leaves, new_leaves = leaves(old_view, schema), leaves(new_view, schema)
    changed = {p for p in new_leaves if _changed(p, old_view, new_view)}
    removed = old_leaves - new_leaves
    result: list[ManagerEntry | None] = []
    mine = ManagerEntry(manager, "Update", api_version, now, subresource)
    for entry in entries:
        if entry.subresource != subresource:
            result.append(entry)  # main and status writers own disjoint parts of the object
            continue
        entry = copy.copy(entry)
        entry.fields = {p for p in entry.fields if p not in changed and p not in removed}
        entry.fields = {p for p in entry.fields if get_path(new_view, p) is not _MISSING}
        if entry.key() == mine.key():
            mine.fields, mine.time, mine.api_version = entry.fields, entry.time, entry.api_version
            result.append(None)  # keep the writer's position in the list
            continue
        if entry.fields:
            result.append(entry)
    if changed:
        mine.fields |= changed
        mine.time = now
        mine.api_version = api_version
    if None in result:
        result[result.index(None)] = mine
    else:
        result.append(mine)
    return [e for e in result if e is not None and e.fields]


@dataclass
class ApplyConflict:
    manager: str
    api_version: str
    path: Path

    def field_text(self) -> str:
        """``.spec.replicas``, ``.spec.devices[name="net0"].bridge``, ``.metadata.finalizers[="x"]``."""
        text = ""
        for element in self.path:
            if element.startswith("f:"):
                text += "." + element[2:]
            elif element.startswith("k:"):
                keys = json.loads(element[2:])
                text += "[" + ",".join(f"{k}={_json(v)}" for k, v in keys.items()) + "]"
            else:
                text += f"[={element[2:]}]"
        return text


def _related(a: Path, b: Path) -> bool:
    shorter = min(len(a), len(b))
    return a[:shorter] == b[:shorter]


def apply(
    live_view: dict[str, Any],
    applied_view: dict[str, Any],
    entries: list[ManagerEntry],
    manager: str,
    api_version: str,
    subresource: str,
    force: bool,
    now: str,
    schema: dict[str, Any] | None = None,
) -> tuple[dict[str, Any], list[ManagerEntry], list[ApplyConflict]]:
    """Merge an applied configuration into the live view; return (merged view, entries, conflicts)."""
    applied = leaves(applied_view, schema)
    key = (manager, "Apply", subresource)
    previous = next((e.fields for e in entries if e.key() == key), set())
    conflicts: list[ApplyConflict] = []
    taken: dict[int, set[Path]] = {}
    for index, entry in enumerate(entries):
        if entry.manager == manager or entry.subresource != subresource:
            continue
        for owned in entry.fields:
            for path in applied:
                # Only fields at or below an applied field can clash; owning an (empty) parent map does not.
                if owned[: len(path)] != path:
                    continue
                if _differs(path, get_path(live_view, path), get_path(applied_view, path)):
                    conflicts.append(ApplyConflict(entry.manager, entry.api_version, path))
                    taken.setdefault(index, set()).add(owned)
    if conflicts and not force:
        unique = {(c.manager, c.path): c for c in conflicts}
        return live_view, entries, [unique[k] for k in sorted(unique)]

    new_entries: list[ManagerEntry | None] = []
    for index, entry in enumerate(entries):
        if entry.key() == key:
            new_entries.append(None)  # placeholder keeps the applier's position in the list
            continue
        entry = copy.copy(entry)
        entry.fields = entry.fields - taken.get(index, set())
        if entry.fields:
            new_entries.append(entry)
    others = [e for e in new_entries if e is not None]
    others_owned: set[Path] = set().union(*(e.fields for e in others)) if others else set()

    merged = copy.deepcopy(live_view)
    for path in sorted(previous - applied, key=len, reverse=True):
        if any(_related(path, other) and len(other) >= len(path) for other in others_owned):
            continue  # someone else still owns it (or something below it): keep
        if any(_related(path, mine) for mine in applied) or _is_key_field(path):
            continue
        delete_path(merged, path, keep=others_owned | applied)
    for path in sorted(applied, key=len):
        value = get_path(applied_view, path)
        if value == {} and isinstance(get_path(merged, path), dict):
            continue  # an empty map in the applied config claims the map, it does not clear it
        set_path(merged, path, copy.deepcopy(value))

    old_entry = next((e for e in entries if e.key() == key), None)
    mine = None
    if applied:
        unchanged = old_entry is not None and old_entry.fields == applied and merged == live_view
        mine = ManagerEntry(
            manager,
            "Apply",
            old_entry.api_version if unchanged else api_version,
            old_entry.time if unchanged else now,
            subresource,
            applied,
        )
    if None in new_entries:
        new_entries[new_entries.index(None)] = mine
    elif mine is not None:
        new_entries.append(mine)
    return merged, [e for e in new_entries if e is not None], []


def same_ownership(old: list[dict[str, Any]], new: list[dict[str, Any]]) -> bool:
    """Equal managedFields, ignoring timestamps, apiVersions and order."""

    def strip(entries: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
        return sorted((e["manager"], e["operation"], e.get("subresource", ""), _json(e["fieldsV1"])) for e in entries)

    return strip(old) == strip(new)


def merge_view(base: dict[str, Any], view: dict[str, Any], subresource: str, status_separate: bool) -> dict[str, Any]:
    """Put a merged tracked view back into the full object."""
    out = copy.deepcopy(base)
    if subresource == "status":
        if "status" in view:
            out["status"] = view["status"]
        else:
            out.pop("status", None)
        return out
    for key in list(out):
        if key in ("apiVersion", "kind", "metadata") or (status_separate and key == "status"):
            continue
        if key not in view:
            del out[key]
    for key, value in view.items():
        if key != "metadata":
            out[key] = value
    view_meta = view.get("metadata") or {}
    for key in METADATA_TRACKED:
        if key in view_meta:
            out["metadata"][key] = view_meta[key]
        else:
            out["metadata"].pop(key, None)
    return out
