"""Server-side apply against the fake kube-apiserver: order, idempotence, namespace/Secret, status reads."""

from __future__ import annotations

import base64

import pytest
from kubernetes import client as k8s

from provisioning.capi import apply, kinds, render
from provisioning.capi.apply import ProxmoxCredentials
from provisioning.capi.kubeconfig import fetch_kubeconfig
from provisioning.capi.status import read_status

from .conftest import SHAPES, make_group, make_spec

CREDS = ProxmoxCredentials("https://pve.example.com:8006/api2/json", "capmox@pve!capi", "not-a-real-secret")


def count_calls(api_client, monkeypatch) -> list[tuple[str, str]]:
    calls: list[tuple[str, str]] = []
    original = api_client.call_api

    def counting(resource_path, method, *args, **kwargs):
        params = args[0] if args else kwargs.get("path_params") or {}
        calls.append((method, resource_path.format(**params) if params else resource_path))
        return original(resource_path, method, *args, **kwargs)

    monkeypatch.setattr(api_client, "call_api", counting)
    return calls


def contains(live, wanted) -> bool:
    """`wanted` is a subset of `live` (the server adds CRD defaults such as ipv4Config.metric)."""
    if isinstance(wanted, dict):
        return isinstance(live, dict) and all(k in live and contains(live[k], v) for k, v in wanted.items())
    if isinstance(wanted, list):
        if not isinstance(live, list) or len(live) != len(wanted):
            return False
        if all(isinstance(item, str | int) for item in wanted):  # set-typed lists may come back reordered
            return sorted(map(str, live)) == sorted(map(str, wanted))
        return all(map(contains, live, wanted))
    return live == wanted


def stored(kubeapi, obj):
    return kubeapi.get_object(obj["apiVersion"], obj["kind"], obj["metadata"]["name"], obj["metadata"]["namespace"])


def test_apply_creates_namespace_secret_and_objects_in_order(kubeapi, kube_client, monkeypatch):
    spec = SHAPES["three-groups"]()
    calls = count_calls(kube_client, monkeypatch)
    applied = apply.apply_cluster(spec, kube_client, CREDS)
    rendered = render.render_cluster(spec)
    assert [(a.kind, a.name) for a in applied] == [(o["kind"], o["metadata"]["name"]) for o in rendered]
    patches = [path for method, path in calls if method == "PATCH"]
    assert patches[0] == "/api/v1/namespaces/tenant-acme/secrets/capmox-pve-credentials"
    order = [path.rsplit("/", 2)[-2] for path in patches[1:]]
    assert order[:3] == ["proxmoxclusters", "kamajicontrolplanes", "clusters"]
    for obj in rendered:
        live = stored(kubeapi, obj)
        assert live is not None, obj["kind"]
        assert contains(live["spec"], obj["spec"]), obj["kind"]
        assert any(m["manager"] == apply.FIELD_MANAGER for m in live["metadata"]["managedFields"])
    namespace = k8s.CoreV1Api(kube_client).read_namespace("tenant-acme")
    assert namespace.metadata.labels[render.MANAGED_BY] == render.MANAGER


def test_credentials_secret_keys(kubeapi, kube_client):
    apply.apply_cluster(make_spec(), kube_client, CREDS)
    secret = k8s.CoreV1Api(kube_client).read_namespaced_secret("capmox-pve-credentials", "tenant-acme")
    data = {k: base64.b64decode(v).decode() for k, v in secret.data.items()}
    assert data == {
        "url": "https://pve.example.com:8006",
        "token": "capmox@pve!capi",
        "secret": "not-a-real-secret",
        "insecure": "false",
    }
    with_ca = ProxmoxCredentials("https://pve:8006", "a@pve!b", "s", insecure=False, root_ca="-----BEGIN CERT")
    assert with_ca.secret_data()["root_ca"] == "-----BEGIN CERT"
    assert "not-a-real-secret" not in repr(CREDS)


def test_reapply_is_a_noop(kubeapi, kube_client):
    spec = SHAPES["three-groups"]()
    first = apply.apply_cluster(spec, kube_client, CREDS)
    second = apply.apply_cluster(spec, kube_client, CREDS)
    assert [a.resource_version for a in first] == [a.resource_version for a in second]
    secret = k8s.CoreV1Api(kube_client).read_namespaced_secret("capmox-pve-credentials", "tenant-acme")
    apply.apply_cluster(spec, kube_client, CREDS)
    again = k8s.CoreV1Api(kube_client).read_namespaced_secret("capmox-pve-credentials", "tenant-acme")
    assert again.metadata.resource_version == secret.metadata.resource_version


def test_scaling_changes_only_the_machine_deployment(kubeapi, kube_client):
    before = {(a.kind, a.name): a.resource_version for a in apply.apply_cluster(make_spec(), kube_client, CREDS)}
    scaled = make_spec(node_groups=(make_group(replicas=4),))
    after = {(a.kind, a.name): a.resource_version for a in apply.apply_cluster(scaled, kube_client, CREDS)}
    changed = {key for key in after if after[key] != before.get(key)}
    assert changed == {("MachineDeployment", "demo-md0")}


def test_spec_change_adds_a_new_template_and_repoints(kubeapi, kube_client):
    apply.apply_cluster(make_spec(), kube_client, CREDS)
    apply.apply_cluster(make_spec(kubernetes_version="v1.34.1"), kube_client, CREDS)
    templates = k8s.CustomObjectsApi(kube_client).list_namespaced_custom_object(
        kinds.PROXMOX_MACHINE_TEMPLATE.group,
        kinds.PROXMOX_MACHINE_TEMPLATE.version,
        "tenant-acme",
        kinds.PROXMOX_MACHINE_TEMPLATE.plural,
    )["items"]
    assert len(templates) == 2  # the old one stays until its MachineSet is gone (CAPI rollout)
    md = kubeapi.get_object("cluster.x-k8s.io/v1beta2", "MachineDeployment", "demo-md0", "tenant-acme")
    new_name = md["spec"]["template"]["spec"]["infrastructureRef"]["name"]
    new = next(t for t in templates if t["metadata"]["name"] == new_name)
    assert "k8s-v1.34.1" in new["spec"]["template"]["spec"]["tags"]
    assert md["spec"]["template"]["spec"]["version"] == "v1.34.1"


def test_read_status_uses_one_list_call_per_kind(kubeapi, kube_client, monkeypatch):
    apply.apply_cluster(make_spec(), kube_client, CREDS)
    apply.apply_cluster(make_spec(name="other", request_id=8), kube_client, CREDS)
    apply.apply_cluster(make_spec(namespace="tenant-globex", tenant="globex", request_id=9), kube_client, CREDS)
    calls = count_calls(kube_client, monkeypatch)
    statuses = read_status(kube_client)
    assert set(statuses) == {("tenant-acme", "demo"), ("tenant-acme", "other"), ("tenant-globex", "demo")}
    assert len(calls) == 6 and all(method == "GET" for method, _ in calls)
    plurals = sorted(path.rsplit("/", 1)[-1] for _, path in calls)
    expected = ["clusters", "kamajicontrolplanes", "machinedeployments", "machines", "proxmoxclusters"]
    assert plurals == [*expected, "proxmoxmachines"]
    status = statuses[("tenant-acme", "other")]
    assert status.exists and [g.deployment for g in status.node_groups] == ["other-md0"]
    assert [step.key for step in status.pipeline] == ["infrastructure", "control_plane", "workers"]


def test_read_status_for_given_namespaces(kubeapi, kube_client):
    apply.apply_cluster(make_spec(), kube_client, CREDS)
    apply.apply_cluster(make_spec(namespace="tenant-globex", tenant="globex", request_id=9), kube_client, CREDS)
    assert set(read_status(kube_client, namespaces=["tenant-globex"])) == {("tenant-globex", "demo")}


def test_unlabelled_objects_are_ignored(kubeapi, kube_client):
    apply.apply_cluster(make_spec(), kube_client, CREDS)
    foreign = render.render_cluster_object(make_spec(name="foreign"))
    foreign["metadata"]["labels"] = {}
    apply.server_side_apply(kube_client, foreign)
    assert set(read_status(kube_client)) == {("tenant-acme", "demo")}


def test_fetch_kubeconfig(kubeapi, kube_client):
    apply.apply_cluster(make_spec(), kube_client, CREDS)
    assert fetch_kubeconfig(kube_client, "tenant-acme", "demo") is None
    body = b"apiVersion: v1\nkind: Config\n"
    k8s.CoreV1Api(kube_client).create_namespaced_secret(
        "tenant-acme",
        k8s.V1Secret(
            metadata=k8s.V1ObjectMeta(name="demo-kubeconfig"), data={"value": base64.b64encode(body).decode()}
        ),
    )
    assert fetch_kubeconfig(kube_client, "tenant-acme", "demo") == body
    assert fetch_kubeconfig(kube_client, "tenant-globex", "demo") is None


def test_delete_cluster_and_cleanup(kubeapi, kube_client):
    apply.apply_cluster(make_spec(), kube_client, CREDS)
    assert apply.delete_cluster(kube_client, "tenant-acme", "demo") is True
    assert apply.delete_cluster(kube_client, "tenant-acme", "demo") is False
    assert ("tenant-acme", "demo") in read_status(kube_client)  # templates etc. still there (no GC in the fake)
    assert apply.cleanup_leftovers(kube_client, "tenant-acme", "demo") == 6
    assert read_status(kube_client) == {}


def test_apply_refuses_invalid_spec_before_touching_the_cluster(kubeapi, kube_client, monkeypatch):
    from provisioning.capi.spec import SpecError

    calls = count_calls(kube_client, monkeypatch)
    with pytest.raises(SpecError):
        apply.apply_cluster(make_spec(node_groups=(make_group(memory_mib=1001),)), kube_client, CREDS)
    assert calls == []
