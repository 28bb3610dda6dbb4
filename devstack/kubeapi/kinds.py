"""Server-side defaults and conversions of the built-in kinds (what their registry strategies do upstream)."""

from __future__ import annotations

import base64
import copy
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from . import errors
from .crds import crd_resource_types
from .resources import ResourceType


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _string_map(obj: dict[str, Any], field: str, kind: str) -> None:
    """Typed decoding like the real server: a non-string value is a 400, not a 422."""
    value = obj.get(field)
    if value is None:
        return
    if not isinstance(value, dict):
        raise errors.bad_request(
            f'{kind} in version "v1" cannot be handled as a {kind}: json: cannot unmarshal '
            f"{_json_type(value)} into Go struct field {kind}.{field} of type map[string]string"
        )
    for item in value.values():
        if not isinstance(item, str):
            raise errors.bad_request(
                f'{kind} in version "v1" cannot be handled as a {kind}: json: cannot unmarshal '
                f"{_json_type(item)} into Go struct field {kind}.{field} of type string"
            )


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    return {dict: "object", list: "array", str: "string"}.get(type(value), "null")


def _secret(obj: dict[str, Any]) -> None:
    _string_map(obj, "stringData", "Secret")
    _string_map(obj, "data", "Secret")
    for value in (obj.get("data") or {}).values():
        try:
            base64.b64decode(value, validate=True)
        except ValueError:
            raise errors.bad_request(
                'Secret in version "v1" cannot be handled as a Secret: illegal base64 data in Secret.data'
            ) from None
    string_data = obj.pop("stringData", None) or {}
    if string_data:
        data = obj.setdefault("data", {})
        for key, value in string_data.items():
            data[key] = base64.b64encode(str(value).encode()).decode()
    obj.setdefault("type", "Opaque")


def _namespace(obj: dict[str, Any]) -> None:
    obj.setdefault("spec", {"finalizers": ["kubernetes"]})
    if not obj["metadata"].get("deletionTimestamp"):
        obj["status"] = {"phase": "Active"}
    labels = obj["metadata"].setdefault("labels", {})
    labels["kubernetes.io/metadata.name"] = obj["metadata"]["name"]


def _service(obj: dict[str, Any], allocate_ip: Callable[[], str]) -> None:
    spec = obj.setdefault("spec", {})
    spec.setdefault("type", "ClusterIP")
    if spec["type"] != "ExternalName" and "clusterIP" not in spec:
        spec["clusterIP"] = allocate_ip()
        spec["clusterIPs"] = [spec["clusterIP"]]


def _crd(rtype: ResourceType, obj: dict[str, Any]) -> None:
    try:
        crd_resource_types(obj)
    except ValueError as exc:
        raise errors.invalid(
            rtype.kind,
            rtype.group,
            obj["metadata"].get("name", ""),
            [{"reason": "FieldValueInvalid", "message": str(exc), "field": "spec"}],
        ) from exc
    status = obj.setdefault("status", {})
    status["acceptedNames"] = copy.deepcopy(obj["spec"]["names"])
    status["storedVersions"] = [v["name"] for v in obj["spec"]["versions"] if v.get("storage")]
    if not status.get("conditions"):  # keep the old ones: identical re-writes stay no-ops
        status["conditions"] = [
            {
                "type": "NamesAccepted",
                "status": "True",
                "reason": "NoConflicts",
                "message": "no conflicts found",
                "lastTransitionTime": _now(),
            },
            {
                "type": "Established",
                "status": "True",
                "reason": "InitialNamesAccepted",
                "message": "the initial names have been accepted",
                "lastTransitionTime": _now(),
            },
        ]


def apply_defaults(rtype: ResourceType, obj: dict[str, Any], allocate_ip: Callable[[], str]) -> None:
    key = rtype.group_resource
    if key == ("", "secrets"):
        _secret(obj)
    elif key == ("", "configmaps"):
        _string_map(obj, "data", "ConfigMap")
    elif key == ("", "namespaces"):
        _namespace(obj)
    elif key == ("", "services"):
        _service(obj, allocate_ip)
    elif key == ("apiextensions.k8s.io", "customresourcedefinitions"):
        _crd(rtype, obj)


def validate_update(rtype: ResourceType, old: dict[str, Any], new: dict[str, Any]) -> None:
    """Immutable fields of built-in kinds that the portal writes."""
    if rtype.group_resource == ("", "secrets") and old.get("type") != new.get("type"):
        name = new["metadata"]["name"]
        raise errors.invalid(
            rtype.kind,
            rtype.group,
            name,
            [
                {
                    "reason": "FieldValueInvalid",
                    "field": "type",
                    "message": f'Invalid value: "{new.get("type")}": field is immutable',
                }
            ],
        )
