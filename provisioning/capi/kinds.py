"""API coordinates of every kind the portal renders or reads (one place, shared by render/apply/status)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Kind:
    kind: str
    group: str
    version: str
    plural: str

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version


CLUSTER = Kind("Cluster", "cluster.x-k8s.io", "v1beta2", "clusters")
MACHINE_DEPLOYMENT = Kind("MachineDeployment", "cluster.x-k8s.io", "v1beta2", "machinedeployments")
MACHINE_HEALTH_CHECK = Kind("MachineHealthCheck", "cluster.x-k8s.io", "v1beta2", "machinehealthchecks")
MACHINE = Kind("Machine", "cluster.x-k8s.io", "v1beta2", "machines")
MACHINE_SET = Kind("MachineSet", "cluster.x-k8s.io", "v1beta2", "machinesets")
KUBEADM_CONFIG_TEMPLATE = Kind(
    "KubeadmConfigTemplate", "bootstrap.cluster.x-k8s.io", "v1beta2", "kubeadmconfigtemplates"
)
KAMAJI_CONTROL_PLANE = Kind("KamajiControlPlane", "controlplane.cluster.x-k8s.io", "v1alpha2", "kamajicontrolplanes")
PROXMOX_CLUSTER = Kind("ProxmoxCluster", "infrastructure.cluster.x-k8s.io", "v1alpha2", "proxmoxclusters")
PROXMOX_MACHINE_TEMPLATE = Kind(
    "ProxmoxMachineTemplate", "infrastructure.cluster.x-k8s.io", "v1alpha2", "proxmoxmachinetemplates"
)
PROXMOX_MACHINE = Kind("ProxmoxMachine", "infrastructure.cluster.x-k8s.io", "v1alpha2", "proxmoxmachines")

RENDERED_KINDS = (
    PROXMOX_CLUSTER,
    KAMAJI_CONTROL_PLANE,
    CLUSTER,
    PROXMOX_MACHINE_TEMPLATE,
    KUBEADM_CONFIG_TEMPLATE,
    MACHINE_DEPLOYMENT,
    MACHINE_HEALTH_CHECK,
)
BY_KIND = {k.kind: k for k in (*RENDERED_KINDS, MACHINE, PROXMOX_MACHINE)}


def ref(kind: Kind, name: str) -> dict:
    """A v1beta2 contract reference: apiGroup + kind + name (no apiVersion, no namespace)."""
    return {"apiGroup": kind.group, "kind": kind.kind, "name": name}
