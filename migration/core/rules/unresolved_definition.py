"""Instancetypes/preferences that are neither built in nor defined in the input."""

from . import Rule


def check(ctx) -> list[tuple[str, str]]:
    found = []
    for kind, name, path in ctx.facts.get("unresolved_instancetype", []):
        found.append((f"{kind} {name} is unknown (add its definition); CPU/memory taken from the template", path))
    for kind, name, path in ctx.facts.get("unresolved_preference", []):
        found.append((f"{kind} {name} is unknown (add its definition); KubeVirt defaults used", path))
    for path in ctx.facts.get("memory_defaulted", []):
        found.append(("no memory size in the VM or its instancetype; 1024 MiB assumed", path))
    return found


RULE = Rule("unresolved-definition", "Critical", "Unresolved instancetype or preference", check)
