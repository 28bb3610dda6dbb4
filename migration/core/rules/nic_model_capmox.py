"""capmox accepts only e1000, virtio, rtl8139 and vmxnet3."""

from ..capmox import CAPMOX_NIC_MODELS, capmox_nic_model
from ..qm import PVE_NIC_MODELS
from . import Rule


def check(ctx) -> list[tuple[str, str]]:
    found = []
    for nic in ctx.nics:
        pve = PVE_NIC_MODELS.get(nic.model, "virtio")
        if nic.model not in CAPMOX_NIC_MODELS:
            note = "" if pve == nic.model else f"; Proxmox itself uses {pve}"
            found.append(
                (f"NIC model {nic.model} is not accepted by capmox; ProxmoxMachineTemplate uses "
                 f"{capmox_nic_model(nic.model)} (guest driver changes){note}", nic.path)
            )  # fmt: skip
    return found


RULE = Rule("nic-model-capmox", "Warning", "NIC model not supported by capmox", check)
