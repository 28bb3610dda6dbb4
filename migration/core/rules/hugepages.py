"""Hugepage backing needs pages reserved on the Proxmox host."""

from . import Rule


def check(ctx) -> list[tuple[str, str]]:
    page = (ctx.memory.get("hugepages") or {}).get("pageSize")
    if page:
        return [
            (f"hugepages {page} set; the Proxmox node must reserve enough pages", ctx.path("domain.memory.hugepages"))
        ]
    page = (ctx.it("memory", "hugepages") or {}).get("pageSize")
    if page:
        return [(f"instancetype uses hugepages {page}; the node must reserve them", ctx.source.vm_path)]
    return []


RULE = Rule("hugepages", "Warning", "Hugepages", check)
