"""Builds small, valid VirtualMachine manifests for unit tests (a clean baseline plus mutations)."""

from __future__ import annotations

import copy
import json

from migration.core import Mappings

BASELINE = {
    "apiVersion": "kubevirt.io/v1",
    "kind": "VirtualMachine",
    "metadata": {"name": "web", "namespace": "shop"},
    "spec": {
        "runStrategy": "Always",
        "dataVolumeTemplates": [
            {
                "metadata": {"name": "web-root"},
                "spec": {
                    "storage": {"resources": {"requests": {"storage": "20Gi"}}, "storageClassName": "fast"},
                    "source": {"http": {"url": "https://images.example/debian.qcow2"}},
                },
            }
        ],
        "template": {
            "spec": {
                "domain": {
                    "cpu": {"sockets": 1, "cores": 2, "threads": 1},
                    "memory": {"guest": "2Gi"},
                    "devices": {
                        "disks": [{"name": "root", "disk": {"bus": "virtio"}}],
                        "interfaces": [{"name": "lan", "bridge": {}, "model": "virtio"}],
                    },
                },
                "networks": [{"name": "lan", "multus": {"networkName": "shop/lan"}}],
                "volumes": [{"name": "root", "dataVolume": {"name": "web-root"}}],
            }
        },
    },
}

MAPPINGS = {
    "network": {"networks": {"shop/lan": {"bridge": "vmbr1", "vlan": 30}}},
    "storage": {"storageClasses": {"fast": "local-zfs"}},
    "templates": {"sources": {"https://images.example/debian.qcow2": {"templateID": 9000, "sourceNode": "pve1"}}},
}


def baseline() -> dict:
    return copy.deepcopy(BASELINE)


def vmi_spec(vm: dict) -> dict:
    return vm["spec"]["template"]["spec"]


def mappings() -> Mappings:
    return Mappings.from_dicts(**MAPPINGS)


def render(*docs: dict) -> str:
    return "\n---\n".join(json.dumps(d) for d in docs)
