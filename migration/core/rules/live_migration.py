"""Eviction strategies rely on KubeVirt live migration."""

from . import Rule


def check(ctx) -> list[tuple[str, str]]:
    strategy = ctx.vmi.get("evictionStrategy")
    if strategy in ("LiveMigrate", "LiveMigrateIfPossible", "External"):
        return [(f"evictionStrategy {strategy}: use Proxmox HA and online migration (shared storage) instead",
                 ctx.path("evictionStrategy"))]  # fmt: skip
    return []


RULE = Rule("live-migration", "Information", "Live-migration eviction strategy", check)
