"""What the demo's fake management cluster holds at start, so the status page and the wizard have something real.

- the capmox controller Deployment (ready), as the capmox installation creates it;
- a Flux HelmRelease, Ready and Released, for every component of the portal's curated paas-proxmox bundle;
- a `legacy` namespace with KubeVirt VirtualMachines, for the migration wizard's live-cluster source.

`python -m devstack.management_seed var/management.yaml` writes them as YAML for `devstack.kubeapi --manifests`.
"""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

from architecture.bundle import curated_bundle

NOW = "2026-01-01T00:00:00Z"


def _ready(kind: str, message: str) -> dict:
    return {"type": kind, "status": "True", "reason": "Succeeded", "message": message, "lastTransitionTime": NOW}


def capmox_deployment() -> dict:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": "capmox-controller-manager",
            "namespace": "capmox-system",
            "labels": {"cluster.x-k8s.io/provider": "infrastructure-proxmox"},
        },
        "spec": {"replicas": 1, "selector": {"matchLabels": {"control-plane": "controller-manager"}}, "template": {}},
        "status": {
            "replicas": 1,
            "readyReplicas": 1,
            "availableReplicas": 1,
            "conditions": [{"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable"}],
        },
    }


def helm_releases() -> list[dict]:
    releases = []
    for component in curated_bundle():
        releases.append(
            {
                "apiVersion": "helm.toolkit.fluxcd.io/v2",
                "kind": "HelmRelease",
                "metadata": {"name": component.release_name or component.name, "namespace": component.namespace},
                "spec": {"chart": {"spec": {"chart": component.chart or component.name}}, "interval": "5m"},
                "status": {
                    "conditions": [
                        _ready("Ready", "Helm install succeeded"),
                        _ready("Released", "Helm install succeeded"),
                    ]
                },
            }
        )
    return releases


def kubevirt_vms() -> list[dict]:
    def vm(name: str, cores: int, memory: str, extra_disk: bool = False) -> dict:
        disks = [{"name": "root", "disk": {"bus": "virtio"}}, {"name": "cloudinit", "disk": {"bus": "virtio"}}]
        volumes = [
            {"name": "root", "dataVolume": {"name": f"{name}-root"}},
            {
                "name": "cloudinit",
                "cloudInitNoCloud": {"userData": "#cloud-config\npackages: [nginx]\n"},
            },
        ]
        if extra_disk:
            disks.append({"name": "data", "disk": {"bus": "virtio"}})
            volumes.append({"name": "data", "persistentVolumeClaim": {"claimName": f"{name}-data"}})
        return {
            "apiVersion": "kubevirt.io/v1",
            "kind": "VirtualMachine",
            "metadata": {"name": name, "namespace": "legacy"},
            "spec": {
                "runStrategy": "Always",
                "template": {
                    "spec": {
                        "domain": {
                            "cpu": {"cores": cores},
                            "memory": {"guest": memory},
                            "devices": {"disks": disks, "interfaces": [{"name": "default", "masquerade": {}}]},
                        },
                        "networks": [{"name": "default", "pod": {}}],
                        "volumes": volumes,
                    }
                },
            },
        }

    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "legacy"}}
    return [namespace, vm("shop-web", 2, "4Gi"), vm("shop-db", 4, "8Gi", extra_disk=True)]


def objects() -> list[dict]:
    system_namespaces = sorted({c.namespace for c in curated_bundle() if c.namespace} | {"capmox-system"})
    namespaces = [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}} for ns in system_namespaces]
    return [*namespaces, capmox_deployment(), *helm_releases(), *kubevirt_vms()]


def write(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump_all(objects(), sort_keys=False))
    return path


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    print(write(Path(argv[0] if argv else "var/management.yaml")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
