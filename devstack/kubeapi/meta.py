"""ObjectMeta normalisation and validation (names, labels) as the real server does it."""

from __future__ import annotations

import re
from typing import Any

USER_META_KEYS = (
    "name",
    "generateName",
    "namespace",
    "labels",
    "annotations",
    "finalizers",
    "ownerReferences",
)
SYSTEM_META_KEYS = (
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "managedFields",
)

_DNS1123_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS1123_SUBDOMAIN = rf"{_DNS1123_LABEL}(\.{_DNS1123_LABEL})*"
_LABEL_VALUE = r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?"
_QUALIFIED_NAME = r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"


def _cause(field: str, value: Any, message: str, reason: str = "FieldValueInvalid") -> dict[str, str]:
    shown = f'"{value}"' if isinstance(value, str) else str(value)
    return {"reason": reason, "message": f"Invalid value: {shown}: {message}", "field": field}


def validate_name(name: str, label_only: bool) -> list[dict[str, str]]:
    if label_only:
        if len(name) > 63 or not re.fullmatch(_DNS1123_LABEL, name):
            return [
                _cause(
                    "metadata.name",
                    name,
                    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
                    "and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', "
                    f"regex used for validation is '{_DNS1123_LABEL}')",
                )
            ]
        return []
    if len(name) > 253 or not re.fullmatch(_DNS1123_SUBDOMAIN, name):
        return [
            _cause(
                "metadata.name",
                name,
                "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, "
                "'-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', "
                f"regex used for validation is '{_DNS1123_SUBDOMAIN}')",
            )
        ]
    return []


def _valid_label_key(key: str) -> bool:
    prefix, _, name = key.rpartition("/")
    if prefix and (len(prefix) > 253 or not re.fullmatch(_DNS1123_SUBDOMAIN, prefix)):
        return False
    return 0 < len(name) <= 63 and re.fullmatch(_QUALIFIED_NAME, name) is not None


def validate_meta(meta: dict[str, Any], label_only_name: bool) -> list[dict[str, str]]:
    causes: list[dict[str, str]] = []
    name = meta.get("name")
    if not name:
        causes.append(
            {
                "reason": "FieldValueRequired",
                "message": "Required value: name or generateName is required",
                "field": "metadata.name",
            }
        )
    else:
        causes += validate_name(name, label_only_name)
    for field in ("labels", "annotations"):
        value = meta.get(field)
        if value is None:
            continue
        if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
            causes.append(_cause(f"metadata.{field}", "object", "must be a map of strings"))
            continue
        for key, item in value.items():
            if not _valid_label_key(key):
                causes.append(
                    _cause(
                        f"metadata.{field}",
                        key,
                        "name part must consist of alphanumeric "
                        "characters, '-', '_' or '.', and must start and end with an alphanumeric "
                        "character",
                    )
                )
            if field == "labels" and (len(item) > 63 or not re.fullmatch(_LABEL_VALUE, item)):
                causes.append(
                    _cause(
                        "metadata.labels",
                        item,
                        "a valid label must be an empty string or consist "
                        "of alphanumeric characters, '-', '_' or '.', and must start and end with "
                        "an alphanumeric character",
                    )
                )
    finalizers = meta.get("finalizers")
    if finalizers is not None and (
        not isinstance(finalizers, list) or not all(isinstance(f, str) and f for f in finalizers)
    ):
        causes.append(_cause("metadata.finalizers", "array", "must be a list of non-empty strings"))
    return causes


def labels_of(obj: dict[str, Any]) -> dict[str, str]:
    return (obj.get("metadata") or {}).get("labels") or {}
