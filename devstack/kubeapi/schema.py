"""CRD openAPIV3Schema handling: pruning, defaulting and validation like the apiextensions server.

Order as in kube-apiserver: drop unknown fields (pruning) and nulls of non-nullable fields, apply defaults,
then validate with JSON Schema. CEL rules (x-kubernetes-validations) and formats are not checked.
"""

from __future__ import annotations

import copy
import json
import re
import threading
from typing import Any

import jsonschema

_SKIPPED_KEYS = {"nullable", "format", "description", "example", "externalDocs", "default", "title"}
_ROOT_KEEP = {"apiVersion", "kind", "metadata"}


def to_json_schema(node: Any) -> Any:
    """Translate one OpenAPI v3 (structural, Kubernetes flavoured) schema node into JSON Schema draft 7."""
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _SKIPPED_KEYS or key.startswith("x-kubernetes-"):
            continue
        if key == "properties":
            out[key] = {name: to_json_schema(sub) for name, sub in value.items()}
        elif key in ("items", "additionalProperties", "not"):
            out[key] = to_json_schema(value) if isinstance(value, dict) else value
        elif key in ("allOf", "anyOf", "oneOf"):
            out[key] = [to_json_schema(sub) for sub in value]
        elif key == "pattern":
            try:
                re.compile(value)
                out[key] = value
            except re.error:
                pass  # an RE2-only construct: skip rather than reject valid objects
        elif key in ("exclusiveMinimum", "exclusiveMaximum"):
            bound = "minimum" if key == "exclusiveMinimum" else "maximum"
            if value is True and bound in node:
                out[key] = node[bound]
        else:
            out[key] = copy.deepcopy(value)
    for key, bound in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        if key in out:
            out.pop(bound, None)
    if node.get("x-kubernetes-int-or-string") and "type" not in out and "anyOf" not in out:
        out["type"] = ["integer", "string"]
    if node.get("nullable"):
        if "type" in out:
            types = out["type"] if isinstance(out["type"], list) else [out["type"]]
            out["type"] = [*types, "null"]
        if "enum" in out and None not in out["enum"]:
            out["enum"] = [*out["enum"], None]
    return out


def _keeps_unknown(node: dict[str, Any]) -> bool:
    return bool(node.get("x-kubernetes-preserve-unknown-fields"))


def _field(path: list[str | int]) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def prune_and_default(obj: dict[str, Any], schema: dict[str, Any] | None, defaults: bool = True) -> list[str]:
    """Mutate ``obj`` in place; return the paths of dropped unknown fields (for warnings / strict mode).

    Server-side apply prunes the applied configuration without defaults: defaulted fields are not owned
    by the applier, they are added to the merged object afterwards.
    """
    if not schema:
        return []
    dropped: list[str] = []
    _walk(obj, schema, [], dropped, defaults, root=True)
    return dropped


def _walk(
    value: Any,
    node: dict[str, Any],
    path: list[str | int],
    dropped: list[str],
    defaults: bool,
    root: bool = False,
) -> None:
    if isinstance(value, dict):
        props: dict[str, Any] = node.get("properties") or {}
        additional = node.get("additionalProperties")
        keep_meta = root or node.get("x-kubernetes-embedded-resource")
        for key in list(value):
            sub = props.get(key)
            if sub is None and isinstance(additional, dict):
                sub = additional
            if sub is None:
                if (keep_meta and key in _ROOT_KEEP) or _keeps_unknown(node) or additional is True:
                    continue
                if props or additional is False or node.get("type") == "object" or not node:
                    del value[key]
                    dropped.append(_field([*path, key]))
                continue
            if value[key] is None and not sub.get("nullable"):
                del value[key]
                continue
            if root and key == "metadata":
                continue  # ObjectMeta is normalised by the store, not by the CRD schema
            _walk(value[key], sub, [*path, key], dropped, defaults)
        for key, sub in props.items():
            if defaults and key not in value and isinstance(sub, dict) and "default" in sub:
                value[key] = copy.deepcopy(sub["default"])
                _walk(value[key], sub, [*path, key], dropped, defaults)
    elif isinstance(value, list) and isinstance(node.get("items"), dict):
        for index, item in enumerate(value):
            _walk(item, node["items"], [*path, index], dropped, defaults)


_validators: dict[int, tuple[dict[str, Any], jsonschema.protocols.Validator]] = {}
_validators_lock = threading.Lock()


def _validator(schema: dict[str, Any]) -> jsonschema.protocols.Validator:
    with _validators_lock:
        hit = _validators.get(id(schema))
        if hit is not None and hit[0] is schema:
            return hit[1]
    validator = jsonschema.Draft7Validator(to_json_schema(schema))
    with _validators_lock:
        _validators[id(schema)] = (schema, validator)  # keeps schema alive, so id() stays unique
    return validator


_JSON_TYPES = {str: "string", bool: "boolean", int: "integer", float: "number", list: "array", dict: "object"}


def _type_name(value: Any) -> str:
    return "null" if value is None else _JSON_TYPES.get(type(value), type(value).__name__)


def _quote(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def _cause(error: jsonschema.ValidationError) -> dict[str, str]:
    path = list(error.absolute_path)
    field = _field(path)
    value = error.instance
    kind = error.validator
    if kind == "required":
        missing = re.match(r"'([^']+)' is a required property", error.message)
        name = missing.group(1) if missing else "?"
        return {"reason": "FieldValueRequired", "message": "Required value", "field": _field([*path, name])}
    if kind == "type":
        expected = error.validator_value
        expected = expected[0] if isinstance(expected, list) and len(expected) == 1 else expected
        expected_text = " or ".join(expected) if isinstance(expected, list) else expected
        return {
            "reason": "FieldValueTypeInvalid",
            "message": f'Invalid value: "{_type_name(value)}": {field} in body must be of type '
            f'{expected_text}: "{_type_name(value)}"',
            "field": field,
        }
    if kind == "enum":
        supported = ", ".join(_quote(v) for v in error.validator_value)
        return {
            "reason": "FieldValueNotSupported",
            "message": f"Unsupported value: {_quote(value)}: supported values: {supported}",
            "field": field,
        }
    if kind == "maxLength":
        return {
            "reason": "FieldValueTooLong",
            "message": f"Too long: may not be more than {error.validator_value} bytes",
            "field": field,
        }
    if kind == "maxItems":
        return {
            "reason": "FieldValueTooMany",
            "message": f"Too many: {len(value)}: must have at most {error.validator_value} items",
            "field": field,
        }
    texts = {
        "minimum": f"should be greater than or equal to {error.validator_value}",
        "maximum": f"should be less than or equal to {error.validator_value}",
        "exclusiveMinimum": f"should be greater than {error.validator_value}",
        "exclusiveMaximum": f"should be less than {error.validator_value}",
        "minLength": f"should be at least {error.validator_value} chars long",
        "minItems": f"should have at least {error.validator_value} items",
        "minProperties": f"should have at least {error.validator_value} properties",
        "maxProperties": f"should have at most {error.validator_value} properties",
        "multipleOf": f"should be a multiple of {error.validator_value}",
        "pattern": f"should match '{error.validator_value}'",
    }
    detail = texts.get(kind, error.message)
    shown = _quote(value) if not isinstance(value, dict | list) else _quote(_type_name(value))
    return {
        "reason": "FieldValueInvalid",
        "message": f"Invalid value: {shown}: {field} in body {detail}",
        "field": field,
    }


def validate(obj: dict[str, Any], schema: dict[str, Any] | None) -> list[dict[str, str]]:
    """Causes (``reason``/``message``/``field``) for every schema violation, sorted by field path."""
    if not schema:
        return []
    errors = _validator(schema).iter_errors(obj)
    causes = [_cause(error) for error in errors]
    unique = {(c["field"], c["message"]): c for c in causes}
    return [unique[key] for key in sorted(unique)]
