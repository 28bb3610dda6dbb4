"""Building the spec from portal models, and `manage.py render_cluster`."""

from __future__ import annotations

from io import StringIO

import pytest
import yaml
from django.core.management import CommandError, call_command

from provisioning.capi import from_request
from provisioning.capi.spec import SpecError


def test_spec_from_models(cluster_order, settings):
    settings.KAMAJI_DATASTORE_NAME = "tenant-etcd"
    settings.CLUSTER_POD_CIDR = "10.244.0.0/16"
    request = cluster_order(groups=(("md0", 2), ("ingress", 1)))
    spec = from_request.build_spec(request)
    assert (spec.name, spec.namespace, spec.tenant, spec.request_id) == ("demo", "tenant-acme", "acme", request.pk)
    assert spec.kubernetes_version == "v1.33.4" and spec.datastore_name == "tenant-etcd"
    assert spec.pod_cidr == "10.244.0.0/16" and spec.service_cidr == "10.95.0.0/16"
    # The gateway (10.20.0.1) lies outside the explicit range, so the range is used as is.
    assert spec.network.addresses == ("10.20.0.100-10.20.0.150",)
    assert (spec.network.prefix, spec.network.gateway, spec.network.vlan) == (24, "10.20.0.1", 120)
    assert spec.credentials_secret == "capmox-demo-pve-credentials"
    assert spec.ssh_user == "ubuntu" and len(spec.ssh_keys) == 1
    assert [g.name for g in spec.node_groups] == ["ingress", "md0"]
    md0 = spec.node_groups[1]
    assert (md0.source.source_node, md0.source.template_id) == ("pve1", 9000)
    assert (md0.storage, md0.pool, md0.full_clone) == ("local-lvm", "portal", True)
    assert spec.vmid_range == (100000, 100099)


def test_vmid_blocks_are_unique_per_live_cluster(cluster_order):
    first = cluster_order(name="one")
    assert from_request.build_spec(first, persist_allocation=True).vmid_range == (100000, 100099)
    second = cluster_order(name="two")
    assert from_request.build_spec(second, persist_allocation=True).vmid_range == (100100, 100199)
    first.refresh_from_db()
    assert first.status_detail["vmid_range"] == [100000, 100099]
    # Stable once allocated.
    assert from_request.build_spec(first).vmid_range == (100000, 100099)


def test_memory_rounded_to_multiple_of_8_and_selector_templates(cluster_order):
    from portal.models import OSTemplate

    request = cluster_order()
    group = request.node_groups.get()
    group.memory_mib = 4100
    group.template = OSTemplate.objects.create(name="tagged", tags=["Ubuntu", "cloudinit"])
    group.save()
    spec = from_request.build_spec(request)
    assert spec.node_groups[0].memory_mib == 4104
    assert spec.node_groups[0].source.match_tags == ("cloudinit", "ubuntu")


def test_network_without_cidr_is_refused(cluster_order):
    request = cluster_order()
    request.network.cidr = ""
    request.network.save()
    with pytest.raises(SpecError, match="no DHCP"):
        from_request.build_spec(request)


def test_cidr_without_range_excludes_the_gateway(cluster_order):
    request = cluster_order()
    network = request.network
    network.ip_range_start = network.ip_range_end = None
    network.cidr, network.gateway = "10.30.0.0/28", "10.30.0.5"
    assert from_request.node_addresses(network) == ("10.30.0.1-10.30.0.4", "10.30.0.6-10.30.0.14")


def test_credentials_from_endpoint(pve_endpoint, fakepve_cafile):
    creds = from_request.credentials_for(pve_endpoint)
    data = creds.secret_data()
    assert data["url"] == pve_endpoint.api_url and data["token"] == "root@pam!portal"
    assert data["insecure"] == "false" and data["root_ca"].startswith("-----BEGIN CERTIFICATE-----")
    pve_endpoint.verify_tls = False
    assert from_request.credentials_for(pve_endpoint).secret_data()["insecure"] == "true"


def test_render_cluster_command(cluster_order):
    request = cluster_order()
    out = StringIO()
    call_command("render_cluster", str(request.pk), stdout=out)
    docs = list(yaml.safe_load_all(out.getvalue()))
    assert [d["kind"] for d in docs][:3] == ["ProxmoxCluster", "KamajiControlPlane", "Cluster"]
    assert "secret" not in out.getvalue().lower()
    by_name = StringIO()
    call_command("render_cluster", "acme/demo", stdout=by_name)
    assert by_name.getvalue() == out.getvalue()  # deterministic
    request.refresh_from_db()
    assert "vmid_range" not in request.status_detail  # rendering does not allocate


def test_render_cluster_command_errors(cluster_order):
    with pytest.raises(CommandError, match="no cluster request"):
        call_command("render_cluster", "999999")
    request = cluster_order()
    request.network.gateway = None
    request.network.save()
    with pytest.raises(CommandError, match="cannot render"):
        call_command("render_cluster", str(request.pk))
