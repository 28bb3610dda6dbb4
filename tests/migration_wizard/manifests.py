"""A small multi-VM KubeVirt export written for these tests: web and db, and gpu with a Critical concern."""

from __future__ import annotations

import copy

WEB = {
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
                        "interfaces": [
                            {"name": "default", "masquerade": {}},
                            {"name": "lan", "bridge": {}, "model": "virtio"},
                        ],
                    },
                },
                "networks": [{"name": "default", "pod": {}}, {"name": "lan", "multus": {"networkName": "lan"}}],
                "volumes": [{"name": "root", "dataVolume": {"name": "web-root"}}],
            }
        },
    },
}


def _vm(name: str, **changes) -> dict:
    vm = copy.deepcopy(WEB)
    vm["metadata"]["name"] = name
    vm["spec"]["dataVolumeTemplates"][0]["metadata"]["name"] = f"{name}-root"
    vm["spec"]["template"]["spec"]["volumes"][0]["dataVolume"]["name"] = f"{name}-root"
    for key, value in changes.items():
        vm["spec"]["template"]["spec"]["domain"][key] = value
    return vm


def multi_vm_docs() -> list[dict]:
    web = _vm("web")
    db = _vm("db", cpu={"sockets": 1, "cores": 4, "threads": 1}, memory={"guest": "4Gi"})
    db["spec"]["runStrategy"] = "Halted"
    gpu = _vm("gpu")
    gpu["spec"]["template"]["spec"]["domain"]["devices"]["gpus"] = [
        {"name": "gpu1", "deviceName": "nvidia.com/GA102GL_A10"}
    ]
    return [web, db, gpu]
