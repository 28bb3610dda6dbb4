"""Render a ClusterSpec into Cluster API objects: Kamaji control plane + capmox workers.

Pure and deterministic: the same spec always yields byte-identical YAML. Objects come out in apply order
(referenced objects before the objects that reference them).
"""

from __future__ import annotations

import hashlib
import json

import yaml

from . import kinds
from .schema_checks import assert_valid
from .spec import ClusterSpec, NodeGroupSpec, validate_spec

LABEL_PREFIX = "proxmox-portal.io"
LABEL_TENANT = f"{LABEL_PREFIX}/tenant"
LABEL_REQUEST = f"{LABEL_PREFIX}/request-id"
LABEL_CLUSTER = f"{LABEL_PREFIX}/cluster"
LABEL_NODE_GROUP = f"{LABEL_PREFIX}/node-group"
MANAGED_BY = "app.kubernetes.io/managed-by"
MANAGER = "proxmox-portal"
# One label-selected list per kind finds every portal object, including the Machines/ProxmoxMachines the
# controllers create (CAPI copies MachineDeployment/template labels onto them).
PORTAL_SELECTOR = f"{MANAGED_BY}={MANAGER}"
CAPI_CLUSTER_LABEL = "cluster.x-k8s.io/cluster-name"
CAPI_DEPLOYMENT_LABEL = "cluster.x-k8s.io/deployment-name"
AUTOSCALER_MIN = "cluster.x-k8s.io/cluster-api-autoscaler-node-group-min-size"
AUTOSCALER_MAX = "cluster.x-k8s.io/cluster-api-autoscaler-node-group-max-size"
# capmox's own templates: kubelet provider-id from the cloud-init instance id (= the VM's SMBIOS UUID).
PROVIDER_ID_ARG = {"name": "provider-id", "value": "proxmox://'{{ ds.meta_data.instance_id }}'"}
HASH_LENGTH = 10


def portal_labels(spec: ClusterSpec) -> dict[str, str]:
    return {
        MANAGED_BY: MANAGER,
        CAPI_CLUSTER_LABEL: spec.name,
        LABEL_CLUSTER: spec.name,
        LABEL_REQUEST: str(spec.request_id),
        LABEL_TENANT: spec.tenant,
    }


def _meta(spec: ClusterSpec, name: str, *, extra_labels: dict | None = None, annotations: dict | None = None):
    meta: dict = {
        "name": name,
        "namespace": spec.namespace,
        "labels": {**portal_labels(spec), **(extra_labels or {})},
    }
    if annotations:
        meta["annotations"] = annotations
    return meta


def _obj(kind: kinds.Kind, metadata: dict, spec_body: dict) -> dict:
    return {"apiVersion": kind.api_version, "kind": kind.kind, "metadata": metadata, "spec": spec_body}


def content_hash(body: dict) -> str:
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:HASH_LENGTH]


def deployment_name(spec: ClusterSpec, group: NodeGroupSpec) -> str:
    return f"{spec.name}-{group.name}"


def render_proxmox_cluster(spec: ClusterSpec) -> dict:
    net = spec.network
    body: dict = {
        # Kamaji owns the endpoint: capmox waits (MissingControlPlaneEndpoint) until the CP provider sets it.
        "externalManagedControlPlane": True,
        "ipv4Config": {"addresses": list(net.addresses), "prefix": net.prefix, "gateway": net.gateway},
        "dnsServers": list(net.dns_servers),
        "credentialsRef": {"name": spec.credentials_secret, "namespace": spec.namespace},
    }
    if spec.allowed_nodes:
        body["allowedNodes"] = sorted(spec.allowed_nodes)
    return _obj(kinds.PROXMOX_CLUSTER, _meta(spec, spec.name), body)


def render_control_plane(spec: ClusterSpec) -> dict:
    body = {
        "version": spec.kubernetes_version,
        "replicas": spec.control_plane_replicas,
        "dataStoreName": spec.datastore_name,
        "addons": {"coreDNS": {}, "kubeProxy": {}, "konnectivity": {}},
        "kubelet": {"cgroupfs": "systemd", "preferredAddressTypes": ["InternalIP", "ExternalIP", "Hostname"]},
        "network": {"serviceType": spec.service_type},
    }
    meta = _meta(spec, spec.name, extra_labels={"cluster.x-k8s.io/role": "control-plane"})
    return _obj(kinds.KAMAJI_CONTROL_PLANE, meta, body)


def render_cluster_object(spec: ClusterSpec) -> dict:
    body = {
        "clusterNetwork": {
            "pods": {"cidrBlocks": [spec.pod_cidr]},
            "services": {"cidrBlocks": [spec.service_cidr]},
        },
        "controlPlaneRef": kinds.ref(kinds.KAMAJI_CONTROL_PLANE, spec.name),
        "infrastructureRef": kinds.ref(kinds.PROXMOX_CLUSTER, spec.name),
    }
    return _obj(kinds.CLUSTER, _meta(spec, spec.name), body)


def machine_spec(spec: ClusterSpec, group: NodeGroupSpec) -> dict:
    """The ProxmoxMachineSpec of one node group (what the template name hashes)."""
    src = group.source
    body: dict = {}
    if src.uses_selector:
        body["templateSelector"] = {
            "matchTags": sorted({t.lower() for t in src.match_tags}),
            "matchPolicy": "exact",
        }
    else:
        body["sourceNode"] = src.source_node
        body["templateID"] = src.template_id
    body["full"] = group.full_clone
    if group.full_clone and group.storage:
        body["storage"] = group.storage
    if group.pool:
        body["pool"] = group.pool
    body.update({"numSockets": group.sockets, "numCores": group.cores, "memoryMiB": group.memory_mib})
    body["disks"] = {"bootVolume": {"disk": group.boot_disk, "sizeGb": group.disk_gib}}
    nic: dict = {"name": "net0", "bridge": spec.network.bridge, "model": spec.network.model}
    if spec.network.vlan is not None:
        nic["vlan"] = spec.network.vlan
    nic["defaultIPv4"] = True
    body["network"] = {"networkDevices": [nic]}
    body["vmIDRange"] = {"start": spec.vmid_range[0], "end": spec.vmid_range[1]}
    body["tags"] = list(spec.vm_tags)
    return body


def _group_labels(spec: ClusterSpec, group: NodeGroupSpec) -> dict[str, str]:
    return {LABEL_NODE_GROUP: group.name, CAPI_DEPLOYMENT_LABEL: deployment_name(spec, group)}


def render_machine_template(spec: ClusterSpec, group: NodeGroupSpec) -> dict:
    template_spec = machine_spec(spec, group)
    # Templates are immutable in capmox: a changed spec gets a new name, which repoints the MachineDeployment.
    name = f"{deployment_name(spec, group)}-{content_hash(template_spec)}"
    labels = {**portal_labels(spec), **_group_labels(spec, group)}
    body = {"template": {"metadata": {"labels": labels}, "spec": template_spec}}
    return _obj(kinds.PROXMOX_MACHINE_TEMPLATE, _meta(spec, name, extra_labels=_group_labels(spec, group)), body)


def bootstrap_spec(spec: ClusterSpec, group: NodeGroupSpec) -> dict:
    body: dict = {}
    if spec.ssh_keys:  # no keys: no login user at all (the image's defaults stay)
        user: dict = {"name": spec.ssh_user, "sshAuthorizedKeys": list(spec.ssh_keys)}
        if spec.ssh_user != "root":
            user["sudo"] = "ALL=(ALL) NOPASSWD:ALL"
        body["users"] = [user]
    body["joinConfiguration"] = {"nodeRegistration": {"kubeletExtraArgs": [dict(PROVIDER_ID_ARG)]}}
    return body


def render_bootstrap_template(spec: ClusterSpec, group: NodeGroupSpec) -> dict:
    template_spec = bootstrap_spec(spec, group)
    # CAPI does not roll machines on an in-place KubeadmConfigTemplate change; hash-naming forces the rollout.
    name = f"{deployment_name(spec, group)}-{content_hash(template_spec)}"
    body = {"template": {"spec": template_spec}}
    return _obj(kinds.KUBEADM_CONFIG_TEMPLATE, _meta(spec, name, extra_labels=_group_labels(spec, group)), body)


def render_machine_deployment(spec: ClusterSpec, group: NodeGroupSpec, infra_name: str, bootstrap_name: str):
    md_name = deployment_name(spec, group)
    selector = {CAPI_CLUSTER_LABEL: spec.name, CAPI_DEPLOYMENT_LABEL: md_name}
    machine_labels = {**portal_labels(spec), **_group_labels(spec, group)}
    for role in sorted(group.roles):
        # CAPI syncs node-role.kubernetes.io/* labels from Machines to Nodes (kubelet may not set them).
        machine_labels[f"node-role.kubernetes.io/{role}"] = ""
    body = {
        "clusterName": spec.name,
        "replicas": group.replicas,
        "selector": {"matchLabels": selector},
        "template": {
            "metadata": {"labels": machine_labels},
            "spec": {
                "clusterName": spec.name,
                "version": spec.kubernetes_version,
                "bootstrap": {"configRef": kinds.ref(kinds.KUBEADM_CONFIG_TEMPLATE, bootstrap_name)},
                "infrastructureRef": kinds.ref(kinds.PROXMOX_MACHINE_TEMPLATE, infra_name),
            },
        },
    }
    annotations = {AUTOSCALER_MIN: str(group.min_replicas), AUTOSCALER_MAX: str(group.max_replicas)}
    meta = _meta(spec, md_name, extra_labels=_group_labels(spec, group), annotations=annotations)
    return _obj(kinds.MACHINE_DEPLOYMENT, meta, body)


def render_health_check(spec: ClusterSpec, group: NodeGroupSpec) -> dict:
    """capmox treats VMProvisionFailed as terminal; CAPI remediation (delete + recreate) is the way out."""
    md_name = deployment_name(spec, group)
    body = {
        "clusterName": spec.name,
        "selector": {"matchLabels": {CAPI_CLUSTER_LABEL: spec.name, CAPI_DEPLOYMENT_LABEL: md_name}},
        "checks": {
            # Full clones + cloud-init on Proxmox are slower than cloud instances: allow 20 minutes to join.
            "nodeStartupTimeoutSeconds": 1200,
            "unhealthyNodeConditions": [
                {"type": "Ready", "status": "Unknown", "timeoutSeconds": 300},
                {"type": "Ready", "status": "False", "timeoutSeconds": 300},
            ],
        },
        "remediation": {"triggerIf": {"unhealthyLessThanOrEqualTo": "40%"}},
    }
    return _obj(kinds.MACHINE_HEALTH_CHECK, _meta(spec, md_name, extra_labels=_group_labels(spec, group)), body)


def render_cluster(spec: ClusterSpec, *, self_check: bool = True) -> list[dict]:
    """All objects of one cluster in apply order. Raises SpecError / SchemaViolation on invalid input."""
    validate_spec(spec)
    objects = [render_proxmox_cluster(spec), render_control_plane(spec), render_cluster_object(spec)]
    for group in sorted(spec.node_groups, key=lambda g: g.name):
        infra = render_machine_template(spec, group)
        bootstrap = render_bootstrap_template(spec, group)
        md = render_machine_deployment(spec, group, infra["metadata"]["name"], bootstrap["metadata"]["name"])
        objects += [infra, bootstrap, md, render_health_check(spec, group)]
    if self_check:
        assert_valid(objects)
    return objects


class _Dumper(yaml.SafeDumper):
    """Block-style YAML that never emits anchors/aliases (shared dicts would otherwise become &id001)."""

    def ignore_aliases(self, data):
        return True


def to_yaml(objects: list[dict]) -> str:
    docs = [yaml.dump(o, Dumper=_Dumper, sort_keys=False, default_flow_style=False, width=1000) for o in objects]
    return "---\n" + "---\n".join(docs)


def render_manifests_yaml(spec: ClusterSpec) -> str:
    """Multi-document YAML of the cluster (no Secrets: credentials are never part of the rendering)."""
    return to_yaml(render_cluster(spec))
