"""A small fake of the CAPI + Kamaji + capmox controllers, for the demo and the end-to-end tests.

Each `reconcile_once()` pass moves every portal cluster one step forward, the way the real controllers would:

1. ProxmoxCluster reports `MissingControlPlaneEndpoint`; KamajiControlPlane starts "deploying".
2. Kamaji publishes the endpoint (KamajiControlPlane + ProxmoxCluster `spec.controlPlaneEndpoint`) and is ready;
   the kubeconfig Secret `<cluster>-kubeconfig` appears.
3. capmox marks the infrastructure provisioned; the Cluster becomes Provisioned.
4. Per MachineDeployment: Machines + ProxmoxMachines are created (scale up/down, template rollouts), and each
   ProxmoxMachine's VM is cloned, configured and started in Proxmox through the portal's own client
   (provisioning/proxmox), with capmox's VirtualMachineProvisioned reasons along the way.
5. Deleting a Cluster (it carries a finalizer like CAPI's) destroys the VMs, then the objects, then the Cluster.

It reads the Proxmox connection from the ProxmoxCluster's credentialsRef Secret, like capmox does.
Development only: nothing in the portal's request path imports it.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import ipaddress
import logging
import os
import secrets
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import yaml
from kubernetes import client as k8s
from kubernetes.client.rest import ApiException

from provisioning.proxmox import operations as pve
from provisioning.proxmox.client import ProxmoxClient
from provisioning.proxmox.errors import ProxmoxError

from . import kinds
from .kubeconfig import kubeconfig_secret_name
from .render import CAPI_CLUSTER_LABEL, CAPI_DEPLOYMENT_LABEL, PORTAL_SELECTOR

log = logging.getLogger(__name__)
CLUSTER_FINALIZER = "cluster.cluster.x-k8s.io"
CLONED_FROM = "cluster.x-k8s.io/cloned-from-name"
MACHINE_SET_LABEL = "cluster.x-k8s.io/set-name"
ENDPOINT_PORT = 6443


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def condition(ctype: str, status: bool, reason: str, message: str = "") -> dict:
    return {
        "type": ctype,
        "status": "True" if status else "False",
        "reason": reason,
        "message": message,
        "lastTransitionTime": _now(),
    }


def expand_addresses(entries: list[str], gateway: str) -> Iterator[str]:
    """capmox pool entries (IP, a-b range, CIDR) -> individual addresses, gateway excluded."""
    for entry in entries:
        if "-" in entry:
            first, last = (int(ipaddress.ip_address(p.strip())) for p in entry.split("-", 1))
            candidates = (str(ipaddress.ip_address(n)) for n in range(first, last + 1))
        elif "/" in entry:
            candidates = (str(h) for h in ipaddress.ip_network(entry, strict=False).hosts())
        else:
            candidates = iter([entry])
        for address in candidates:
            if address != gateway:
                yield address


def fake_endpoint_host(namespace: str, name: str) -> str:
    """A stable "LoadBalancer IP" for the Kamaji Service (TEST-NET-1, never routable)."""
    digest = int(hashlib.sha256(f"{namespace}/{name}".encode()).hexdigest(), 16)
    return f"192.0.2.{1 + digest % 254}"


class KubeObjects:
    """The few CustomObjectsApi calls the fake controllers need."""

    def __init__(self, api_client: k8s.ApiClient):
        self.api = k8s.CustomObjectsApi(api_client)
        self.core = k8s.CoreV1Api(api_client)

    def list(self, kind: kinds.Kind, selector: str = PORTAL_SELECTOR) -> list[dict]:
        items = self.api.list_cluster_custom_object(kind.group, kind.version, kind.plural, label_selector=selector)
        return items.get("items", [])

    def create(self, kind: kinds.Kind, body: dict) -> dict:
        ns = body["metadata"]["namespace"]
        return self.api.create_namespaced_custom_object(kind.group, kind.version, ns, kind.plural, body)

    def patch(self, kind: kinds.Kind, obj: dict, body: dict) -> dict:
        meta = obj["metadata"]
        return self.api.patch_namespaced_custom_object(
            kind.group, kind.version, meta["namespace"], kind.plural, meta["name"], body
        )

    def patch_status(self, kind: kinds.Kind, obj: dict, status: dict) -> dict:
        meta = obj["metadata"]
        return self.api.patch_namespaced_custom_object_status(
            kind.group, kind.version, meta["namespace"], kind.plural, meta["name"], {"status": status}
        )

    def delete(self, kind: kinds.Kind, obj: dict) -> None:
        meta = obj["metadata"]
        try:
            self.api.delete_namespaced_custom_object(
                kind.group, kind.version, meta["namespace"], kind.plural, meta["name"]
            )
        except ApiException as exc:
            if exc.status != 404:
                raise


class ProxmoxConnections:
    """ProxmoxClient per credentials Secret content (url/token/secret/insecure/root_ca, as capmox reads it)."""

    def __init__(self, core: k8s.CoreV1Api, factory: Callable[[dict], ProxmoxClient] | None = None):
        self.core = core
        self.factory = factory or self._client_from_secret
        self._cache: dict[str, ProxmoxClient] = {}
        self._ca_files: list = []

    def _client_from_secret(self, data: dict) -> ProxmoxClient:
        verify: bool | str = data.get("insecure", "true").lower() not in ("1", "on", "true", "yes", "y")
        if verify and data.get("root_ca"):
            handle = tempfile.NamedTemporaryFile("w", suffix=".pem", delete=False)  # noqa: SIM115 - kept open
            handle.write(data["root_ca"])
            handle.flush()
            self._ca_files.append(handle)
            verify = handle.name
        return ProxmoxClient(data["url"], data["token"], data["secret"], verify=verify, poll_interval=0.05)

    def for_cluster(self, proxmox_cluster: dict) -> ProxmoxClient:
        ref = proxmox_cluster["spec"].get("credentialsRef") or {}
        namespace = ref.get("namespace") or proxmox_cluster["metadata"]["namespace"]
        secret = self.core.read_namespaced_secret(ref["name"], namespace)
        data = {k: base64.b64decode(v).decode() for k, v in (secret.data or {}).items()}
        key = hashlib.sha256(repr(sorted(data.items())).encode()).hexdigest()
        if key not in self._cache:
            self._cache[key] = self.factory(data)
        return self._cache[key]


class FakeCapiReconciler:
    def __init__(self, api_client: k8s.ApiClient, proxmox_factory: Callable[[dict], ProxmoxClient] | None = None):
        self.kube = KubeObjects(api_client)
        self.proxmox = ProxmoxConnections(self.kube.core, proxmox_factory)

    # ------------------------------------------------------------------ driver
    def reconcile_once(self) -> dict[str, int]:
        """One pass over every portal cluster. Returns counters (for logs and tests)."""
        stats: dict[str, int] = defaultdict(int)
        objects = {kind.kind: self.kube.list(kind) for kind in self._watched_kinds()}
        by_cluster: dict[tuple[str, str], dict[str, list[dict]]] = defaultdict(lambda: defaultdict(list))
        for kind_name, items in objects.items():
            for obj in items:
                meta = obj["metadata"]
                name = meta["name"] if kind_name == "Cluster" else meta.get("labels", {}).get(CAPI_CLUSTER_LABEL)
                if name:
                    by_cluster[(meta["namespace"], name)][kind_name].append(obj)
        for (namespace, name), found in sorted(by_cluster.items()):
            try:
                self._reconcile_cluster(namespace, name, found, stats)
            except (ApiException, ProxmoxError) as exc:
                stats["errors"] += 1
                log.warning("fake reconcile of %s/%s failed: %s", namespace, name, exc)
        return dict(stats)

    @staticmethod
    def _watched_kinds() -> tuple[kinds.Kind, ...]:
        return (
            kinds.CLUSTER,
            kinds.PROXMOX_CLUSTER,
            kinds.KAMAJI_CONTROL_PLANE,
            kinds.MACHINE_DEPLOYMENT,
            kinds.PROXMOX_MACHINE_TEMPLATE,
            kinds.MACHINE,
            kinds.PROXMOX_MACHINE,
        )

    def _reconcile_cluster(self, namespace: str, name: str, found: dict, stats: dict) -> None:
        cluster = next(iter(found.get("Cluster", [])), None)
        proxmox_cluster = next(iter(found.get("ProxmoxCluster", [])), None)
        if cluster is None or cluster["metadata"].get("deletionTimestamp"):
            self._delete_cluster(cluster, proxmox_cluster, found, stats)
            return
        if CLUSTER_FINALIZER not in (cluster["metadata"].get("finalizers") or []):
            finalizers = [*(cluster["metadata"].get("finalizers") or []), CLUSTER_FINALIZER]
            cluster = self.kube.patch(kinds.CLUSTER, cluster, {"metadata": {"finalizers": finalizers}})
        control_plane = next(iter(found.get("KamajiControlPlane", [])), None)
        if proxmox_cluster is None or control_plane is None:
            return
        cp_ready = self._reconcile_control_plane(namespace, name, control_plane, proxmox_cluster, stats)
        infra_ready = self._reconcile_infrastructure(proxmox_cluster, cp_ready)
        self._update_cluster_status(cluster, infra_ready, cp_ready)
        if not (infra_ready and cp_ready):
            return
        client = self.proxmox.for_cluster(proxmox_cluster)
        templates = {t["metadata"]["name"]: t for t in found.get("ProxmoxMachineTemplate", [])}
        machines = found.get("Machine", [])
        proxmox_machines = {pm["metadata"]["name"]: pm for pm in found.get("ProxmoxMachine", [])}
        for md in found.get("MachineDeployment", []):
            self._reconcile_deployment(md, templates, machines, proxmox_machines, proxmox_cluster, client, stats)

    # ------------------------------------------------------------------ control plane + infrastructure
    def _reconcile_control_plane(self, namespace, name, control_plane, proxmox_cluster, stats) -> bool:
        status = control_plane.get("status") or {}
        desired = int(control_plane["spec"].get("replicas") or 2)
        version = control_plane["spec"]["version"]
        if not status:
            self.kube.patch_status(
                kinds.KAMAJI_CONTROL_PLANE,
                control_plane,
                {
                    "ready": False,
                    "version": version,
                    "replicas": desired,
                    "readyReplicas": 0,
                    "externalManagedControlPlane": True,
                    "conditions": [condition("Available", False, "Deploying", "TenantControlPlane is starting")],
                },
            )
            return False
        if not (control_plane["spec"].get("controlPlaneEndpoint") or {}).get("host"):
            endpoint = {"host": fake_endpoint_host(namespace, name), "port": ENDPOINT_PORT}
            # As Kamaji's checkOrPatchGenericCluster: fill the endpoint on both the control plane and ProxmoxCluster.
            self.kube.patch(kinds.KAMAJI_CONTROL_PLANE, control_plane, {"spec": {"controlPlaneEndpoint": endpoint}})
            self.kube.patch(kinds.PROXMOX_CLUSTER, proxmox_cluster, {"spec": {"controlPlaneEndpoint": endpoint}})
            self.kube.patch_status(
                kinds.KAMAJI_CONTROL_PLANE,
                control_plane,
                {
                    "ready": True,
                    "initialization": {"controlPlaneInitialized": True},
                    "version": version,
                    "replicas": desired,
                    "readyReplicas": desired,
                    "availableReplicas": desired,
                    "upToDateReplicas": desired,
                    "conditions": [condition("Available", True, "Available")],
                },
            )
            self._write_kubeconfig(namespace, name, endpoint)
            stats["control_planes_ready"] += 1
            return True
        if status.get("version") != version or status.get("replicas") != desired:  # upgrade or CP scaling
            self.kube.patch_status(
                kinds.KAMAJI_CONTROL_PLANE,
                control_plane,
                {"version": version, "replicas": desired, "readyReplicas": desired, "availableReplicas": desired},
            )
        return bool(status.get("ready"))

    def _write_kubeconfig(self, namespace: str, name: str, endpoint: dict) -> None:
        # Fake credentials for a fake API server: shaped like Kamaji's admin kubeconfig, usable by no one.
        kubeconfig = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": name,
                    "cluster": {"server": f"https://{endpoint['host']}:{endpoint['port']}"},
                }
            ],
            "users": [{"name": f"{name}-admin", "user": {"token": secrets.token_hex(16)}}],
            "contexts": [{"name": f"{name}-admin@{name}", "context": {"cluster": name, "user": f"{name}-admin"}}],
            "current-context": f"{name}-admin@{name}",
        }
        body = k8s.V1Secret(
            metadata=k8s.V1ObjectMeta(
                name=kubeconfig_secret_name(name), namespace=namespace, labels={CAPI_CLUSTER_LABEL: name}
            ),
            type="cluster.x-k8s.io/secret",
            data={"value": base64.b64encode(yaml.safe_dump(kubeconfig).encode()).decode()},
        )
        try:
            self.kube.core.create_namespaced_secret(namespace, body)
        except ApiException as exc:
            if exc.status != 409:
                raise

    def _reconcile_infrastructure(self, proxmox_cluster: dict, cp_ready: bool) -> bool:
        status = proxmox_cluster.get("status") or {}
        if status.get("initialization", {}).get("provisioned"):
            return True
        if not cp_ready:
            message = "waiting for the control plane provider to set spec.controlPlaneEndpoint"
            self.kube.patch_status(
                kinds.PROXMOX_CLUSTER,
                proxmox_cluster,
                {"conditions": [condition("ProxmoxAvailable", False, "MissingControlPlaneEndpoint", message)]},
            )
            return False
        name = proxmox_cluster["metadata"]["name"]
        self.kube.patch_status(
            kinds.PROXMOX_CLUSTER,
            proxmox_cluster,
            {
                "initialization": {"provisioned": True},
                "inClusterIPPoolRef": [{"name": f"{name}-v4-icip"}],
                "conditions": [condition("ProxmoxAvailable", True, "Provisioned")],
            },
        )
        return False  # the Cluster sees it on the next pass, as with the real controllers

    def _update_cluster_status(self, cluster: dict, infra_ready: bool, cp_ready: bool) -> None:
        phase = "Provisioned" if infra_ready and cp_ready else "Provisioning"
        status = {
            "phase": phase,
            "initialization": {"infrastructureProvisioned": infra_ready, "controlPlaneInitialized": cp_ready},
            "conditions": [
                condition("InfrastructureReady", infra_ready, "Ready" if infra_ready else "NotReady"),
                condition("ControlPlaneInitialized", cp_ready, "Initialized" if cp_ready else "NotInitialized"),
            ],
        }
        old = cluster.get("status") or {}
        if old.get("phase") != phase or old.get("initialization") != status["initialization"]:
            self.kube.patch_status(kinds.CLUSTER, cluster, status)

    # ------------------------------------------------------------------ workers
    def _reconcile_deployment(self, md, templates, machines, proxmox_machines, proxmox_cluster, client, stats):
        md_name = md["metadata"]["name"]
        mine = [m for m in machines if m["metadata"].get("labels", {}).get(CAPI_DEPLOYMENT_LABEL) == md_name]
        live = [m for m in mine if not m["metadata"].get("deletionTimestamp")]
        template_name = md["spec"]["template"]["spec"]["infrastructureRef"]["name"]
        current = [m for m in live if m["metadata"].get("annotations", {}).get(CLONED_FROM) == template_name]
        outdated = [m for m in live if m not in current]
        desired = int(md["spec"].get("replicas") or 0)
        template = templates.get(template_name)
        if template is not None:
            for _ in range(desired - len(current)):
                self._create_machine(md, template, proxmox_cluster)
                stats["machines_created"] += 1
        # Scale down newest first; roll out: drop outdated machines once the new ones are up.
        surplus = sorted(current, key=lambda m: m["metadata"].get("creationTimestamp", ""), reverse=True)
        doomed = surplus[: max(0, len(current) - desired)]
        new_ready = sum(1 for m in current if (m.get("status") or {}).get("phase") == "Running")
        if new_ready >= desired:
            doomed += outdated
        for machine in doomed:
            self._delete_machine(machine, proxmox_machines, client)
            stats["machines_deleted"] += 1
        for machine in live:
            if machine in doomed:
                continue
            pm = proxmox_machines.get(machine["spec"]["infrastructureRef"]["name"])
            if pm is not None:
                self._reconcile_vm(machine, pm, proxmox_machines, proxmox_cluster, client, stats)
        self._update_deployment_status(md, [m for m in live if m not in doomed], template_name)

    def _create_machine(self, md: dict, template: dict, proxmox_cluster: dict) -> None:
        namespace, md_name = md["metadata"]["namespace"], md["metadata"]["name"]
        cluster_name = md["spec"]["clusterName"]
        name = f"{md_name}-{secrets.token_hex(3)}"
        labels = {
            **md["spec"]["template"].get("metadata", {}).get("labels", {}),
            CAPI_CLUSTER_LABEL: cluster_name,
            CAPI_DEPLOYMENT_LABEL: md_name,
            MACHINE_SET_LABEL: f"{md_name}-{template['metadata']['name'][-5:]}",
        }
        annotations = {CLONED_FROM: template["metadata"]["name"]}
        machine_spec = md["spec"]["template"]["spec"]
        machine = self.kube.create(
            kinds.MACHINE,
            {
                "apiVersion": kinds.MACHINE.api_version,
                "kind": "Machine",
                "metadata": {"name": name, "namespace": namespace, "labels": labels, "annotations": annotations},
                "spec": {
                    "clusterName": cluster_name,
                    "version": machine_spec.get("version"),
                    "bootstrap": {"dataSecretName": name},
                    "infrastructureRef": kinds.ref(kinds.PROXMOX_MACHINE, name),
                },
            },
        )
        pm_labels = {**template["spec"]["template"].get("metadata", {}).get("labels", {}), **labels}
        owner = {
            "apiVersion": kinds.MACHINE.api_version,
            "kind": "Machine",
            "name": name,
            "uid": machine["metadata"]["uid"],
            "controller": True,
        }
        self.kube.create(
            kinds.PROXMOX_MACHINE,
            {
                "apiVersion": kinds.PROXMOX_MACHINE.api_version,
                "kind": "ProxmoxMachine",
                "metadata": {
                    "name": name,
                    "namespace": namespace,
                    "labels": pm_labels,
                    "annotations": annotations,
                    "ownerReferences": [owner],
                },
                "spec": dict(template["spec"]["template"]["spec"]),
            },
        )

    def _pick_vmid(self, pm: dict, proxmox_machines: dict, client: ProxmoxClient) -> int:
        id_range = pm["spec"].get("vmIDRange") or {}
        used = {p["spec"].get("virtualMachineID") for p in proxmox_machines.values()}
        start, end = int(id_range.get("start", 100)), int(id_range.get("end", 999_999_999))
        for vmid in range(start, end + 1):
            if vmid not in used and pve.vmid_is_free(client, vmid):
                return vmid
        raise LookupError("No free vmid found in vmIDRange")

    def _pick_address(self, pm: dict, proxmox_machines: dict, proxmox_cluster: dict) -> str:
        used = {
            a["address"]
            for p in proxmox_machines.values()
            for a in (p.get("status") or {}).get("addresses") or []
            if a.get("type") == "InternalIP"
        }
        config = proxmox_cluster["spec"]["ipv4Config"]
        for address in expand_addresses(config["addresses"], config["gateway"]):
            if address not in used:
                return address
        raise LookupError("the cluster's IP pool is exhausted")

    def _template_source(self, spec: dict, client: ProxmoxClient) -> tuple[str, int]:
        if "templateSelector" in spec:
            wanted = {t.lower() for t in spec["templateSelector"]["matchTags"]}
            matches = [t for t in pve.list_templates(client) if {x.lower() for x in t.tags} == wanted]
            if len(matches) != 1:
                raise LookupError(f"found {len(matches)} templates with exactly the tags {sorted(wanted)}")
            return matches[0].node, matches[0].vmid
        return spec["sourceNode"], int(spec["templateID"])

    def _vm_failed(self, pm: dict, message: str) -> None:
        self.kube.patch_status(
            kinds.PROXMOX_MACHINE,
            pm,
            {"conditions": [condition("VirtualMachineProvisioned", False, "VMProvisionFailed", message)]},
        )

    def _reconcile_vm(self, machine, pm, proxmox_machines, proxmox_cluster, client, stats) -> None:
        status = pm.get("status") or {}
        provisioned = next(
            (c for c in status.get("conditions") or [] if c["type"] == "VirtualMachineProvisioned"), None
        )
        if provisioned and provisioned["reason"] == "VMProvisionFailed":
            return  # terminal, like capmox: the MachineHealthCheck / a person deletes the Machine
        spec = pm["spec"]
        if spec.get("virtualMachineID") is None:
            try:
                node, template_id = self._template_source(spec, client)
                vmid = self._pick_vmid(pm, proxmox_machines, client)
            except LookupError as exc:
                self._vm_failed(pm, str(exc))
                return
            upid = pve.clone(
                client,
                source_node=node,
                template_vmid=template_id,
                newid=vmid,
                name=pm["metadata"]["name"],
                full=spec.get("full", True),
                target=None,
                storage=spec.get("storage"),
                pool=spec.get("pool"),
                description=f"capmox machine {pm['metadata']['namespace']}/{pm['metadata']['name']}",
            )
            pm = self.kube.patch(kinds.PROXMOX_MACHINE, pm, {"spec": {"virtualMachineID": vmid}})
            proxmox_machines[pm["metadata"]["name"]] = pm
            self.kube.patch_status(
                kinds.PROXMOX_MACHINE,
                pm,
                {
                    "vmStatus": "pending",
                    "proxmoxNode": node,
                    "taskRef": upid,
                    "conditions": [condition("VirtualMachineProvisioned", False, "Cloning")],
                },
            )
            stats["vms_cloned"] += 1
            return
        node, vmid = status.get("proxmoxNode"), int(spec["virtualMachineID"])
        if status.get("taskRef"):
            task = client.task_status(status["taskRef"], node)
            if task.get("status") != "stopped":
                return
            if task.get("exitstatus") != "OK":
                self._vm_failed(pm, f"task {status['taskRef']} failed: {task.get('exitstatus')}")
                return
            self._configure_and_start(pm, node, vmid, proxmox_machines, proxmox_cluster, client)
            return
        if status.get("vmStatus") != "ready":
            current = pve.vm_status(client, node, vmid)
            if current.get("status") != "running":
                return
            config = pve.vm_config(client, node, vmid)
            uuid = next(
                (p.split("=", 1)[1] for p in str(config.get("smbios1", "")).split(",") if p.startswith("uuid=")),
                "00000000-0000-0000-0000-000000000000",
            )
            provider_id = f"proxmox://{uuid}"
            self.kube.patch(kinds.PROXMOX_MACHINE, pm, {"spec": {"providerID": provider_id}})
            self.kube.patch_status(
                kinds.PROXMOX_MACHINE,
                pm,
                {
                    "vmStatus": "ready",
                    "initialization": {"provisioned": True},
                    "bootstrapDataProvided": True,
                    "conditions": [condition("VirtualMachineProvisioned", True, "Provisioned")],
                },
            )
            self._machine_running(machine, pm, provider_id)
            stats["vms_ready"] += 1

    def _configure_and_start(self, pm, node, vmid, proxmox_machines, proxmox_cluster, client) -> None:
        spec = pm["spec"]
        options: dict = {}
        for field, option in (("numSockets", "sockets"), ("numCores", "cores"), ("memoryMiB", "memory")):
            if spec.get(field) is not None:
                options[option] = int(spec[field])
        nic = spec["network"]["networkDevices"][0]
        options["net0"] = pve.net0_value(nic.get("bridge", "vmbr0"), nic.get("vlan"), nic.get("model", "virtio"))
        options["tags"] = pve.tags_value(list(spec.get("tags") or []))
        client.wait_task(pve.set_config(client, node, vmid, **options), node=node, timeout=120)
        boot = (spec.get("disks") or {}).get("bootVolume")
        if boot:
            client.wait_task(pve.resize_disk(client, node, vmid, boot["disk"], boot["sizeGb"]), node=node)
        try:
            address = self._pick_address(pm, proxmox_machines, proxmox_cluster)
        except LookupError as exc:
            self._vm_failed(pm, str(exc))
            return
        upid = pve.power(client, node, vmid, "start")
        prefix = proxmox_cluster["spec"]["ipv4Config"]["prefix"]
        # Keep the in-memory view current so the next machine in this pass does not get the same address.
        proxmox_machines[pm["metadata"]["name"]] = self.kube.patch_status(
            kinds.PROXMOX_MACHINE,
            pm,
            {
                "taskRef": None,
                "addresses": [
                    {"type": "Hostname", "address": pm["metadata"]["name"]},
                    {"type": "InternalIP", "address": address},
                ],
                "ipAddresses": [{"net": "default", "ipv4": [f"{address}/{prefix}"]}],
                "conditions": [
                    condition("VirtualMachineProvisioned", False, "WaitingForCloudInit", f"start task {upid}")
                ],
            },
        )

    def _machine_running(self, machine: dict, pm: dict, provider_id: str) -> None:
        self.kube.patch(kinds.MACHINE, machine, {"spec": {"providerID": provider_id}})
        addresses = list((pm.get("status") or {}).get("addresses") or [])
        self.kube.patch_status(
            kinds.MACHINE,
            machine,
            {
                "phase": "Running",
                "nodeRef": {"name": machine["metadata"]["name"]},
                "addresses": addresses,
                "initialization": {"infrastructureProvisioned": True, "bootstrapDataSecretCreated": True},
                "conditions": [
                    condition("Ready", True, "Ready"),
                    condition("Available", True, "Available"),
                    condition("NodeHealthy", True, "NodeHealthy"),
                ],
            },
        )

    def _delete_machine(self, machine: dict, proxmox_machines: dict, client: ProxmoxClient | None) -> None:
        pm = proxmox_machines.pop(machine["spec"]["infrastructureRef"]["name"], None)
        if pm is not None:
            self._destroy_vm(pm, client)
            self.kube.delete(kinds.PROXMOX_MACHINE, pm)
        self.kube.delete(kinds.MACHINE, machine)

    def _destroy_vm(self, pm: dict, client: ProxmoxClient | None) -> None:
        vmid = pm["spec"].get("virtualMachineID")
        node = (pm.get("status") or {}).get("proxmoxNode")
        if client is None or vmid is None or not node:
            return
        try:
            current = pve.vm_status(client, node, int(vmid))
        except ProxmoxError:
            return  # already gone
        if current.get("status") == "running":
            client.wait_task(pve.power(client, node, int(vmid), "stop"), node=node, timeout=120)
        client.wait_task(pve.destroy(client, node, int(vmid)), node=node, timeout=300)

    def _update_deployment_status(self, md: dict, machines: list[dict], template_name: str) -> None:
        running = [m for m in machines if (m.get("status") or {}).get("phase") == "Running"]
        up_to_date = [m for m in machines if m["metadata"].get("annotations", {}).get(CLONED_FROM) == template_name]
        desired = int(md["spec"].get("replicas") or 0)
        phase = (
            "Running"
            if len(running) == desired == len(machines)
            else ("ScalingUp" if len(machines) < desired or len(running) < desired else "ScalingDown")
        )
        status = {
            "replicas": len(machines),
            "readyReplicas": len(running),
            "availableReplicas": len(running),
            "upToDateReplicas": len(up_to_date),
            "phase": phase,
        }
        old = md.get("status") or {}
        if any(old.get(k) != v for k, v in status.items()):
            self.kube.patch_status(kinds.MACHINE_DEPLOYMENT, md, status)

    # ------------------------------------------------------------------ deletion
    def _delete_cluster(self, cluster, proxmox_cluster, found, stats) -> None:
        client = None
        if proxmox_cluster is not None:
            try:
                client = self.proxmox.for_cluster(proxmox_cluster)
            except ApiException:
                client = None  # credentials already gone: VMs cannot be cleaned up by us
        proxmox_machines = {pm["metadata"]["name"]: pm for pm in found.get("ProxmoxMachine", [])}
        for machine in found.get("Machine", []):
            self._delete_machine(machine, proxmox_machines, client)
            stats["machines_deleted"] += 1
        for pm in list(proxmox_machines.values()):
            self._destroy_vm(pm, client)
            self.kube.delete(kinds.PROXMOX_MACHINE, pm)
        if cluster is None:
            return
        namespace, name = cluster["metadata"]["namespace"], cluster["metadata"]["name"]
        for kind_name in ("MachineDeployment", "KamajiControlPlane", "ProxmoxCluster"):
            for obj in found.get(kind_name, []):
                self.kube.delete(kinds.BY_KIND[kind_name], obj)
        try:
            self.kube.core.delete_namespaced_secret(kubeconfig_secret_name(name), namespace)
        except ApiException as exc:
            if exc.status != 404:
                raise
        finalizers = [f for f in cluster["metadata"].get("finalizers") or [] if f != CLUSTER_FINALIZER]
        self.kube.patch(kinds.CLUSTER, cluster, {"metadata": {"finalizers": finalizers}})
        stats["clusters_deleted"] += 1


def run(api_client: k8s.ApiClient, *, interval: float = 2.0, passes: int | None = None) -> None:
    reconciler = FakeCapiReconciler(api_client)
    done = 0
    while passes is None or done < passes:
        try:
            stats = reconciler.reconcile_once()
        except Exception:  # the demo loop must survive an API server restart
            log.exception("fake CAPI pass failed")
            stats = {}
        if stats:
            log.info("fake CAPI pass: %s", stats)
        done += 1
        if passes is None or done < passes:
            time.sleep(interval)


def main(argv: list[str] | None = None) -> None:
    from .apply import api_client_from_config

    parser = argparse.ArgumentParser(description="Fake CAPI/Kamaji/capmox controllers for the portal demo.")
    parser.add_argument(
        "--kubeconfig",
        default=os.environ.get("CAPI_KUBECONFIG", ""),
        help="management cluster kubeconfig (default: $CAPI_KUBECONFIG, the fake API server's)",
    )
    parser.add_argument("--loop", action="store_true", help="keep reconciling (default: one pass)")
    parser.add_argument("--interval", type=float, default=2.0, help="seconds between passes")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    run(api_client_from_config(args.kubeconfig), interval=args.interval, passes=None if args.loop else 1)


if __name__ == "__main__":
    main()
