"""Strict validation of KubeVirt objects against the field whitelist in ``kubevirt_fields``.

The upstream OpenAPI has no ``additionalProperties: false``, so typos (``autoattachGraphicsDevices``) pass the
API server and are silently ignored by KubeVirt; here they are errors with the exact path.
"""

from __future__ import annotations

import difflib
import json

from .errors import InputError
from .kubevirt_fields import ENUMS, REQUIRED, TYPES
from .quantity import _QUANTITY

_TYPE_WORDS = {"s": "string", "i": "integer", "b": "boolean", "n": "number", "q": "quantity", "t": "string"}

ROOTS = {
    "VirtualMachine": "v1.VirtualMachine",
    "VirtualMachineInstance": "v1.VirtualMachineInstance",
    "VirtualMachinePool": "v1beta1.VirtualMachinePool",
    "DataVolume": "cdi.DataVolume",
    "VirtualMachineInstancetype": "v1beta1.Instancetype",
    "VirtualMachineClusterInstancetype": "v1beta1.Instancetype",
    "VirtualMachinePreference": "v1beta1.Preference",
    "VirtualMachineClusterPreference": "v1beta1.Preference",
}


def validate(value: object, type_name: str, path: str = "") -> None:
    """Raise InputError naming the first offending field of ``value`` (an object of ``type_name``)."""
    stack = [path] if path else []
    _check_object(value, type_name, stack)


def _render_path(stack: list[str]) -> str:
    out = ""
    for part in stack:
        if part.startswith("["):
            out += part
        else:
            out = f"{out}.{part}" if out else part
    return out


def _describe(value: object) -> str:
    if isinstance(value, str):
        text = json.dumps(value[:40])
        return text if len(value) <= 40 else text[:-1] + '..."'
    if value is True or value is False:
        return f"boolean {str(value).lower()}"
    if isinstance(value, int | float):
        return f"number {value}"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    return type(value).__name__


def _fail(stack: list[str], message: str) -> InputError:
    return InputError(message, _render_path(stack))


def _check_object(value: object, type_name: str, stack: list[str]) -> None:
    if not isinstance(value, dict):
        raise _fail(stack, f"expected object, got {_describe(value)}")
    fields = TYPES[type_name]
    for key, sub in value.items():
        spec = fields.get(key) if isinstance(key, str) else None
        if spec is None:
            stack.append(str(key))
            hint = difflib.get_close_matches(str(key), list(fields), n=1, cutoff=0.75) if fields else []
            suffix = f' (did you mean "{hint[0]}"?)' if hint else ""
            raise _fail(stack, f"unknown field{suffix}")
        if sub is None:
            continue  # null means unset in Kubernetes
        stack.append(key)
        _check(sub, spec, stack)
        allowed = ENUMS.get((type_name, key))
        if allowed is not None and sub not in allowed:
            raise _fail(stack, f"unsupported value {_describe(sub)}; expected one of {', '.join(allowed)}")
        stack.pop()
    required = REQUIRED.get(type_name)
    if required:
        for key in required:
            if value.get(key) is None:
                stack.append(key)
                raise _fail(stack, "required field is missing")


def _check(value: object, spec: str, stack: list[str]) -> None:
    head = spec[0]
    if head == "@":
        _check_object(value, spec[1:], stack)
    elif head == "[":
        if not isinstance(value, list):
            raise _fail(stack, f"expected list, got {_describe(value)}")
        inner = spec[1:-1]
        for i, item in enumerate(value):
            if item is None:
                continue
            stack.append(f"[{i}]")
            _check(item, inner, stack)
            stack.pop()
    elif head == "{":
        if not isinstance(value, dict):
            raise _fail(stack, f"expected object, got {_describe(value)}")
        inner = spec[1:-1]
        for key, item in value.items():
            if item is None:
                continue
            stack.append(str(key))
            _check(item, inner, stack)
            stack.pop()
    elif spec == "s" or spec == "t":
        if not isinstance(value, str):
            raise _fail(stack, f"expected string, got {_describe(value)}")
    elif spec == "i":
        if not isinstance(value, int) or isinstance(value, bool):
            raise _fail(stack, f"expected integer, got {_describe(value)}")
    elif spec == "b":
        if not isinstance(value, bool):
            raise _fail(stack, f"expected boolean, got {_describe(value)}")
    elif spec == "n":
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise _fail(stack, f"expected number, got {_describe(value)}")
    elif spec == "q":
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise _fail(stack, f"expected quantity, got {_describe(value)}")
        if isinstance(value, str) and (len(value) > 64 or not _QUANTITY.match(value.strip())):
            raise _fail(stack, f"invalid quantity {_describe(value)}")
    elif spec == "x" and (isinstance(value, bool) or not isinstance(value, str | int)):
        raise _fail(stack, f"expected integer or string, got {_describe(value)}")
    # "any": free-form
