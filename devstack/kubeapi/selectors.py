"""Label and field selectors with the real server's syntax."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from .errors import bad_request

Matcher = Callable[[dict[str, Any]], bool]

_KEY = r"[A-Za-z0-9][-A-Za-z0-9_./]*"
_VALUE = r"[-A-Za-z0-9_.]*"
_SET_RE = re.compile(rf"^\s*(?P<key>{_KEY})\s+(?P<op>in|notin)\s+\((?P<values>[^)]*)\)\s*$")
_EQ_RE = re.compile(rf"^\s*(?P<key>{_KEY})\s*(?P<op>==|!=|=)\s*(?P<value>{_VALUE})\s*$")
_EXISTS_RE = re.compile(rf"^\s*(?P<neg>!?)\s*(?P<key>{_KEY})\s*$")


def _split_requirements(selector: str) -> list[str]:
    """Split on commas that are not inside ``( ... )``."""
    parts, depth, current = [], 0, ""
    for char in selector:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    parts.append(current)
    return [p for p in parts if p.strip()]


def _requirement(text: str) -> Callable[[dict[str, str]], bool]:
    if match := _SET_RE.match(text):
        key, op = match["key"], match["op"]
        values = {v.strip() for v in match["values"].split(",") if v.strip()}
        for value in values:
            if not re.fullmatch(_VALUE, value):
                raise bad_request(f"unable to parse requirement: invalid label value: {value!r}")
        if op == "in":
            return lambda labels: key in labels and labels[key] in values
        return lambda labels: key not in labels or labels[key] not in values
    if match := _EQ_RE.match(text):
        key, op, value = match["key"], match["op"], match["value"]
        if op == "!=":
            return lambda labels: labels.get(key) != value
        return lambda labels: key in labels and labels[key] == value
    if match := _EXISTS_RE.match(text):
        key = match["key"]
        if match["neg"]:
            return lambda labels: key not in labels
        return lambda labels: key in labels
    raise bad_request(f"unable to parse requirement: {text.strip()!r}")


def label_matcher(selector: str | None) -> Matcher:
    if not selector or not selector.strip():
        return lambda obj: True
    requirements = [_requirement(part) for part in _split_requirements(selector)]

    def matches(obj: dict[str, Any]) -> bool:
        labels = obj.get("metadata", {}).get("labels") or {}
        return all(req(labels) for req in requirements)

    return matches


# Field labels supported per resource besides metadata.name / metadata.namespace.
EXTRA_FIELDS: dict[tuple[str, str], dict[str, Callable[[dict[str, Any]], str]]] = {
    ("", "secrets"): {"type": lambda o: o.get("type", "")},
    ("", "namespaces"): {"status.phase": lambda o: (o.get("status") or {}).get("phase", "")},
}


def field_matcher(selector: str | None, group: str, plural: str) -> Matcher:
    if not selector or not selector.strip():
        return lambda obj: True
    getters: dict[str, Callable[[dict[str, Any]], str]] = {
        "metadata.name": lambda o: o["metadata"].get("name", ""),
        "metadata.namespace": lambda o: o["metadata"].get("namespace", ""),
        **EXTRA_FIELDS.get((group, plural), {}),
    }
    checks = []
    for part in _split_requirements(selector):
        match = re.match(r"^\s*([^=!\s]+)\s*(==|!=|=)\s*(.*?)\s*$", part)
        if not match:
            raise bad_request(f"invalid selector: {selector!r}; can't understand {part.strip()!r}")
        field, op, value = match.groups()
        if field not in getters:
            raise bad_request(f"field label not supported: {field}")
        getter = getters[field]
        negate = op == "!="
        checks.append(lambda obj, g=getter, v=value, n=negate: (g(obj) == v) != n)
    return lambda obj: all(check(obj) for check in checks)
