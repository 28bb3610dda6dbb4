"""JSON merge patch (RFC 7386), JSON patch (RFC 6902) and the strategic-merge subset used for built-ins."""

from __future__ import annotations

import copy
from typing import Any

from .errors import ApiError


def merge_patch(target: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def strategic_merge_patch(target: Any, patch: Any) -> Any:
    """Merge patch that ignores ``$``-directives; lists are replaced (no merge keys)."""
    if isinstance(patch, dict):
        patch = {k: v for k, v in patch.items() if not k.startswith("$")}
        result = copy.deepcopy(target) if isinstance(target, dict) else {}
        for key, value in patch.items():
            if value is None:
                result.pop(key, None)
            else:
                result[key] = strategic_merge_patch(result.get(key), value)
        return result
    return copy.deepcopy(patch)


def _invalid_patch(message: str) -> ApiError:
    return ApiError(422, "Invalid", message, {})


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise _invalid_patch(f"invalid JSON pointer: {path!r}")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _parent(doc: Any, parts: list[str], op: str, path: str) -> Any:
    node = doc
    for part in parts[:-1]:
        try:
            node = node[int(part)] if isinstance(node, list) else node[part]
        except (KeyError, IndexError, ValueError, TypeError):
            raise _invalid_patch(f"jsonpatch {op} operation does not apply: doc is missing path: {path}") from None
    return node


def _get(doc: Any, path: str, op: str) -> Any:
    parts = _pointer(path)
    if not parts:
        return doc
    node = _parent(doc, parts, op, path)
    key = parts[-1]
    try:
        return node[int(key)] if isinstance(node, list) else node[key]
    except (KeyError, IndexError, ValueError, TypeError):
        raise _invalid_patch(f"jsonpatch {op} operation does not apply: doc is missing key: {path}") from None


def _remove(doc: Any, path: str, op: str) -> Any:
    parts = _pointer(path)
    node = _parent(doc, parts, op, path)
    key = parts[-1]
    try:
        return node.pop(int(key)) if isinstance(node, list) else node.pop(key)
    except (KeyError, IndexError, ValueError, TypeError):
        raise _invalid_patch(f"jsonpatch {op} operation does not apply: doc is missing key: {path}") from None


def _add(doc: Any, path: str, value: Any, op: str, replace: bool = False) -> Any:
    parts = _pointer(path)
    if not parts:
        return value
    node = _parent(doc, parts, op, path)
    key = parts[-1]
    if isinstance(node, list):
        if replace:
            node[int(key)] = value
        elif key == "-":
            node.append(value)
        else:
            index = int(key)
            if index > len(node):
                raise _invalid_patch(f"jsonpatch {op} operation does not apply: index out of range: {path}")
            node.insert(index, value)
    elif isinstance(node, dict):
        if replace and key not in node:
            raise _invalid_patch(f"jsonpatch replace operation does not apply: doc is missing key: {path}")
        node[key] = value
    else:
        raise _invalid_patch(f"jsonpatch {op} operation does not apply: {path}")
    return doc


def json_patch(target: Any, operations: Any) -> Any:
    if not isinstance(operations, list):
        raise ApiError(400, "BadRequest", "json patch body must be a list of operations")
    doc = copy.deepcopy(target)
    for operation in operations:
        if not isinstance(operation, dict) or "op" not in operation or "path" not in operation:
            raise _invalid_patch(f"invalid JSON patch operation: {operation!r}")
        op, path = operation["op"], operation["path"]
        if op == "add":
            doc = _add(doc, path, copy.deepcopy(operation.get("value")), op)
        elif op == "remove":
            _remove(doc, path, op)
        elif op == "replace":
            _get(doc, path, op)
            doc = _add(doc, path, copy.deepcopy(operation.get("value")), op, replace=True)
        elif op == "move":
            value = _remove(doc, operation["from"], op)
            doc = _add(doc, path, value, op)
        elif op == "copy":
            doc = _add(doc, path, copy.deepcopy(_get(doc, operation["from"], op)), op)
        elif op == "test":
            if _get(doc, path, op) != operation.get("value"):
                raise _invalid_patch(f"testing value {path} failed")
        else:
            raise _invalid_patch(f"unexpected kind of JSON patch operation: {op!r}")
    return doc
