"""Storage classes without an explicit Proxmox storage."""

from . import Rule


def check(ctx) -> list[tuple[str, str]]:
    found = []
    for cls, storage, path in ctx.facts.get("storage_unmapped", []):
        if cls:
            found.append((f"storage class {cls} is not in the storage map; using {storage}", path))
        else:
            found.append((f"disk has no storage class; using the default storage {storage}", path))
    return found


RULE = Rule("storage-unmapped", "Warning", "Storage class without mapping", check)
