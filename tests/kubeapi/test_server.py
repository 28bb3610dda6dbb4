"""Server plumbing: CLI, state file, seeding KubeVirt VMs, shared-dir discovery, concurrency."""

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import yaml
from kubernetes import client, config

from devstack.kubeapi import FakeKubeAPI, paths

REPO = Path(__file__).resolve().parents[2]
SHARED = Path(__file__).resolve().parents[2] / ".." / "shared"


def test_builtin_crds_serve_the_portal_kinds_without_shared():
    with FakeKubeAPI() as server:
        store = server.store
        expected = {
            ("cluster.x-k8s.io/v1beta2", "Cluster"),
            ("cluster.x-k8s.io/v1beta2", "Machine"),
            ("cluster.x-k8s.io/v1beta2", "MachineDeployment"),
            ("cluster.x-k8s.io/v1beta2", "MachineHealthCheck"),
            ("controlplane.cluster.x-k8s.io/v1alpha2", "KamajiControlPlane"),
            ("bootstrap.cluster.x-k8s.io/v1beta2", "KubeadmConfigTemplate"),
            ("infrastructure.cluster.x-k8s.io/v1alpha2", "ProxmoxCluster"),
            ("infrastructure.cluster.x-k8s.io/v1alpha2", "ProxmoxMachine"),
            ("infrastructure.cluster.x-k8s.io/v1alpha2", "ProxmoxMachineTemplate"),
            ("ipam.cluster.x-k8s.io/v1alpha2", "InClusterIPPool"),
            ("ipam.cluster.x-k8s.io/v1alpha2", "GlobalInClusterIPPool"),
            ("ipam.cluster.x-k8s.io/v1beta2", "IPAddressClaim"),
            ("ipam.cluster.x-k8s.io/v1beta2", "IPAddress"),
            ("kubevirt.io/v1", "VirtualMachine"),
            ("helm.toolkit.fluxcd.io/v2", "HelmRelease"),
        }
        assert {pair for pair in expected if store.find_kind(*pair) is not None} == expected


def test_builtin_crds_can_be_disabled():
    with FakeKubeAPI(builtin_crds=False) as server:
        assert server.store.find_kind("cluster.x-k8s.io/v1beta2", "Cluster") is None
        # ...but seeding a known kind registers its built-in CRD on demand.
        server.load_objects(
            [{"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachine", "metadata": {"name": "vm", "namespace": "x"}}]
        )
        assert server.get_object("kubevirt.io/v1", "VirtualMachine", "vm", "x")["metadata"]["namespace"] == "x"


def test_upstream_crds_served_versions(shared_crds):
    with FakeKubeAPI(crd_dirs=[shared_crds]) as server:
        groups = server.discovery_groups()["groups"]
        capi = next(g for g in groups if g["name"] == "cluster.x-k8s.io")
        assert capi["preferredVersion"]["version"] == "v1beta2"
        assert {v["version"] for v in capi["versions"]} == {"v1beta1", "v1beta2"}
        capmox = next(g for g in groups if g["name"] == "infrastructure.cluster.x-k8s.io")
        assert [v["version"] for v in capmox["versions"]] == ["v1alpha2", "v1alpha1"]
        resources = server.discovery_resources("cluster.x-k8s.io", "v1beta2")["resources"]
        cluster = next(r for r in resources if r["name"] == "clusters")
        assert cluster["kind"] == "Cluster" and cluster["namespaced"] and cluster["singularName"] == "cluster"
        assert any(r["name"] == "clusters/status" for r in resources)


def test_objects_are_readable_through_every_served_version(kubeapi, kube_client):
    api = client.CustomObjectsApi(kube_client)
    body = {
        "apiVersion": "cluster.x-k8s.io/v1beta2",
        "kind": "Cluster",
        "metadata": {"name": "c"},
        "spec": {"paused": False},
    }
    api.create_namespaced_custom_object("cluster.x-k8s.io", "v1beta2", "default", "clusters", body)
    versions = kubeapi.discovery_group("cluster.x-k8s.io")["versions"]
    for version in (v["version"] for v in versions):
        read = api.get_namespaced_custom_object("cluster.x-k8s.io", version, "default", "clusters", "c")
        assert read["apiVersion"] == f"cluster.x-k8s.io/{version}"


def test_kubevirt_samples_are_loadable_and_listed_by_the_dynamic_client(tmp_path):
    samples = SHARED / "samples" / "kubevirt"
    if not samples.is_dir():
        pytest.skip(f"../shared not found: {samples}")
    with FakeKubeAPI() as server:
        stored = server.load_manifests(
            samples / "kubevirt-examples_vm-cirros.yaml", samples / "harvester-notes_vm-list-masquerade-exported.yaml"
        )
        assert {o["metadata"]["name"] for o in stored} >= {"vm-cirros", "vm1"}
        vms = server.dynamic_client().resources.get(api_version="kubevirt.io/v1", kind="VirtualMachine")
        listed = {(vm.metadata.namespace, vm.metadata.name) for vm in vms.get().items}
        assert ("default", "vm-cirros") in listed
        assert ("test-migration", "vm1") in listed


def test_seeded_status_is_kept(kubeapi, kube_client):
    kubeapi.load_objects(
        [
            {
                "apiVersion": "kubevirt.io/v1",
                "kind": "VirtualMachine",
                "metadata": {"name": "web", "namespace": "tenant-x", "labels": {"app": "web"}},
                "spec": {"runStrategy": "Always", "template": {"spec": {"domain": {"devices": {}}}}},
                "status": {"printableStatus": "Running", "ready": True},
            }
        ]
    )
    vm = client.CustomObjectsApi(kube_client).get_namespaced_custom_object(
        "kubevirt.io", "v1", "tenant-x", "virtualmachines", "web"
    )
    assert vm["status"] == {"printableStatus": "Running", "ready": True}


def test_shared_dir_honours_env_var(tmp_path, monkeypatch):
    (tmp_path / "crds").mkdir()
    monkeypatch.setenv("PORTAL_SHARED_DIR", str(tmp_path))
    assert paths.shared_dir() == tmp_path
    assert paths.shared_crd_dir() == tmp_path / "crds"
    monkeypatch.setenv("PORTAL_SHARED_DIR", str(tmp_path / "absent"))
    assert paths.shared_dir() is None


def test_concurrent_writers_get_unique_increasing_resource_versions(kubeapi):
    errors, versions = [], []

    def writer(index):
        try:
            api = client.CoreV1Api(kubeapi.client())
            for item in range(10):
                created = api.create_namespaced_config_map(
                    "default", client.V1ConfigMap(metadata=client.V1ObjectMeta(name=f"w{index}-{item}"))
                )
                versions.append(int(created.metadata.resource_version))
        except Exception as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(versions) == 80 == len(set(versions))


def test_stop_releases_the_port_and_closes_keepalive_connections():
    server = FakeKubeAPI().start()
    api = client.CoreV1Api(server.client())
    api.list_namespace()  # leaves a pooled keep-alive connection open
    started = time.perf_counter()
    server.stop()
    assert time.perf_counter() - started < 0.1
    with pytest.raises(Exception):  # noqa: B017 - any connection error will do
        api.list_namespace(_request_timeout=1)


def test_state_file_round_trip(tmp_path):
    state = tmp_path / "state.json"
    with FakeKubeAPI() as first:
        first.load_objects(
            [{"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "t"}, "data": {"k": "dg=="}}]
        )
        first.save_state(state)
    assert state.stat().st_mode & 0o777 == 0o600
    with FakeKubeAPI() as second:
        second.load_state(state)
        assert second.get_object("v1", "Secret", "s", "t")["data"] == {"k": "dg=="}


def test_cli_writes_kubeconfig_serves_and_saves_state(tmp_path):
    kubeconfig = tmp_path / "kubeconfig"
    state = tmp_path / "state.json"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "devstack.kubeapi",
            "--port",
            "0",
            "--kubeconfig-out",
            str(kubeconfig),
            "--state-file",
            str(state),
        ],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        while not kubeconfig.exists() and time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.05)
        assert kubeconfig.exists(), process.stderr.read().decode() if process.poll() is not None else "timeout"
        assert yaml.safe_load(kubeconfig.read_text())["users"][0]["user"]["token"]
        api_client = config.new_client_from_config(config_file=str(kubeconfig))
        client.CoreV1Api(api_client).create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name="demo")))
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=10)
    assert process.returncode == 0
    assert "demo" in state.read_text()


def test_hooks_can_play_controller(kubeapi, kube_client):
    """A demo 'controller': when a Cluster appears, publish its kubeconfig Secret and mark it provisioned."""
    seen = []

    def fake_capi(event, obj):
        seen.append((event, obj["kind"], obj["metadata"]["name"]))
        if event == "ADDED" and obj["kind"] == "Cluster":
            meta = obj["metadata"]
            kubeapi.load_objects(
                [
                    {
                        "apiVersion": "v1",
                        "kind": "Secret",
                        "metadata": {"name": f"{meta['name']}-kubeconfig", "namespace": meta["namespace"]},
                        "stringData": {"value": "apiVersion: v1\nkind: Config\n"},
                    }
                ]
            )
            kubeapi.set_status(obj["apiVersion"], "Cluster", meta["name"], meta["namespace"], {"phase": "Provisioned"})

    kubeapi.add_hook(fake_capi)
    custom = client.CustomObjectsApi(kube_client)
    custom.create_namespaced_custom_object(
        "cluster.x-k8s.io",
        "v1beta2",
        "default",
        "clusters",
        {
            "apiVersion": "cluster.x-k8s.io/v1beta2",
            "kind": "Cluster",
            "metadata": {"name": "c1"},
            "spec": {"paused": False},
        },
    )
    secret = client.CoreV1Api(kube_client).read_namespaced_secret("c1-kubeconfig", "default")
    assert secret.data["value"]
    cluster = custom.get_namespaced_custom_object("cluster.x-k8s.io", "v1beta2", "default", "clusters", "c1")
    assert cluster["status"]["phase"] == "Provisioned"
    assert seen[:3] == [("ADDED", "Cluster", "c1"), ("ADDED", "Secret", "c1-kubeconfig"), ("MODIFIED", "Cluster", "c1")]


def test_migration_sources_vm_datavolume_and_pvc_are_served(kubeapi, kube_client):
    kubeapi.load_objects(
        [
            {"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachine", "metadata": {"name": "db", "namespace": "shop"}},
            {
                "apiVersion": "cdi.kubevirt.io/v1beta1",
                "kind": "DataVolume",
                "metadata": {"name": "db-root", "namespace": "shop"},
                "spec": {"storage": {"resources": {"requests": {"storage": "20Gi"}}}},
            },
            {
                "apiVersion": "v1",
                "kind": "PersistentVolumeClaim",
                "metadata": {"name": "db-root", "namespace": "shop"},
                "spec": {"resources": {"requests": {"storage": "20Gi"}}},
                "status": {"phase": "Bound"},
            },
        ]
    )
    custom = client.CustomObjectsApi(kube_client)
    dvs = custom.list_namespaced_custom_object("cdi.kubevirt.io", "v1beta1", "shop", "datavolumes")["items"]
    assert [dv["metadata"]["name"] for dv in dvs] == ["db-root"]
    pvcs = client.CoreV1Api(kube_client).list_namespaced_persistent_volume_claim("shop").items
    assert pvcs[0].spec.resources.requests == {"storage": "20Gi"}
    assert pvcs[0].status.phase == "Bound"


def test_tls_mode_serves_https_with_a_ca_in_the_kubeconfig(tmp_path):
    with FakeKubeAPI(tls=True) as server:
        assert server.url.startswith("https://127.0.0.1:")
        from_kubeconfig = config.new_client_from_config_dict(server.kubeconfig_dict())
        names = [ns.metadata.name for ns in client.CoreV1Api(from_kubeconfig).list_namespace().items]
        assert "default" in names
        assert client.CoreV1Api(server.client()).read_namespace("default").status.phase == "Active"

        untrusted = server.kubeconfig_dict()
        del untrusted["clusters"][0]["cluster"]["certificate-authority-data"]
        api = client.CoreV1Api(config.new_client_from_config_dict(untrusted))
        api.api_client.configuration.retries = 0
        with pytest.raises(Exception, match="CERTIFICATE_VERIFY_FAILED|certificate verify failed"):
            api.list_namespace(_request_timeout=5)


def test_list_objects_helper(kubeapi):
    kubeapi.load_objects(
        [
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "b", "namespace": "x"}},
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a", "namespace": "y"}},
        ]
    )
    assert [(o["metadata"]["namespace"], o["metadata"]["name"]) for o in kubeapi.list_objects("v1", "ConfigMap")] == [
        ("x", "b"),
        ("y", "a"),
    ]
    assert [o["kind"] for o in kubeapi.list_objects("v1", "ConfigMap", "y")] == ["ConfigMap"]
    assert kubeapi.list_objects("example.com/v1", "Nothing") == []


def test_cli_refuses_non_loopback_hosts(tmp_path):
    from devstack.kubeapi.__main__ import main

    assert main(["--host", "0.0.0.0", "--kubeconfig-out", str(tmp_path / "kc")]) == 2
    assert not (tmp_path / "kc").exists()
