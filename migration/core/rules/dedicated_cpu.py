"""Dedicated CPU placement pins vCPUs through the kubelet CPU manager."""

from . import Rule


def check(ctx) -> list[tuple[str, str]]:
    cpu = ctx.cpu
    if cpu.get("dedicatedCpuPlacement") or cpu.get("isolateEmulatorThread"):
        return [
            ("dedicated pCPUs are not reserved on Proxmox; set 'affinity' by hand if needed", ctx.path("domain.cpu"))
        ]
    if ctx.it("cpu", "dedicatedCPUPlacement"):
        return [("instancetype asks for dedicated pCPUs; set 'affinity' by hand if needed", ctx.source.vm_path)]
    return []


RULE = Rule("dedicated-cpu", "Warning", "Dedicated CPU placement", check)
