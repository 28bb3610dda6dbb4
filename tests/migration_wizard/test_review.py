"""Review helpers and the progress page: concern paths marked in the source, map changes in the result, polling."""

from __future__ import annotations

import pytest
import yaml

from migration.core import Mappings, convert
from migration.models import MigrationPlan
from migration.wizard import engine, review
from portal.models import VMRequest
from portal.states import State

from .manifests import multi_vm_docs

pytestmark = pytest.mark.django_db


def test_concern_path_lines_are_marked_in_the_source():
    gpu = multi_vm_docs()[2]
    plan = convert(yaml.safe_dump(gpu), Mappings()).plans[0]
    lines = review.marked_source(plan.source_doc, plan.concerns)
    gpu_lines = [line["text"].strip() for line in lines if line["title"] == "GPU passthrough"]
    assert sorted(gpu_lines) == ["- deviceName: nvidia.com/GA102GL_A10", "name: gpu1"]
    assert {line["mark"] for line in lines if line["title"] == "GPU passthrough"} == {"critical"}
    # The unmapped multus interface is marked too, on its own lines.
    assert any(line["title"].startswith("Multus") and "lan" in line["text"] for line in lines)


def test_result_marks_only_what_the_maps_changed(acme, member, template, multi_vm_yaml):
    plan = MigrationPlan.objects.create(tenant=acme, owner=member, name="r")
    engine.replace_source(plan, multi_vm_yaml, "paste", "p")
    network = acme.networks.get()
    plan.mappings = {"network": {"pod": network.pk, "shop/lan": network.pk}, "storage": {"fast": "ceph-vm"}}
    plan.save()
    mapped = engine.convert_plan(plan).plans[0]
    plain = engine.convert_plan(plan, with_maps=False).plans[0]
    changed = [line["text"].strip() for line in review.marked_result(mapped, plain) if line["mark"]]
    assert any(text.startswith("net0:") and "tag=100" in text for text in changed)
    assert any("ceph-vm" in text for text in changed)
    assert not any(text.startswith(("cores:", "memory:")) for text in changed)


def test_progress_stops_polling_when_every_request_is_final(client, member, acme, template):
    plan = MigrationPlan.objects.create(tenant=acme, owner=member, name="p", status="submitted")
    vm = VMRequest.objects.create(
        tenant=acme, name="m1", template=template, memory_mib=1024, disk_gib=10, network=acme.networks.get(),
        state=State.PROVISIONING, origin="migration",
    )  # fmt: skip
    plan.items.create(name="m1", namespace="ns", vm_request=vm, target_name="m1")
    client.force_login(member)
    response = client.get(f"/migration/{plan.pk}/progress/", HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and b'hx-trigger="every' in response.content
    VMRequest.objects.filter(pk=vm.pk).update(state=State.READY)
    response = client.get(f"/migration/{plan.pk}/progress/", HTTP_HX_REQUEST="true")
    assert response.status_code == 286 and b"hx-trigger" not in response.content.split(b"<table")[0]
    # Steps of a submitted plan cannot be changed.
    response = client.post(f"/migration/{plan.pk}/select/", {"selected": []})
    assert response.status_code == 302 and response.url.endswith("/progress/")


def test_pool_replicas_and_vmis_without_networks_become_items(acme, member):
    pool = {
        "apiVersion": "pool.kubevirt.io/v1alpha1",
        "kind": "VirtualMachinePool",
        "metadata": {"name": "workers", "namespace": "ci"},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "w"}},
            "virtualMachineTemplate": {
                "metadata": {"labels": {"app": "w"}},
                "spec": {
                    "runStrategy": "Always",
                    "template": {
                        "metadata": {"labels": {"app": "w"}},
                        "spec": {
                            "domain": {
                                "memory": {"guest": "1Gi"},
                                "devices": {"disks": [{"name": "root", "disk": {"bus": "virtio"}}]},
                            },
                            "volumes": [
                                {"name": "root", "containerDisk": {"image": "quay.io/containerdisks/fedora:41"}}
                            ],
                        },
                    },
                },
            },
        },
    }
    plan = MigrationPlan.objects.create(tenant=acme, owner=member, name="pool")
    engine.replace_source(plan, yaml.safe_dump(pool), "paste", "p")
    items = list(plan.items.order_by("replica"))
    assert [(i.key, i.target_name) for i in items] == [("ci/workers-0#0", "workers-0"), ("ci/workers-1#1", "workers-1")]
    ctx = engine.build_context(plan)
    # No `networks`: the pod network is what KubeVirt attaches, and what the order's single NIC is mapped from.
    assert list(ctx.needed_networks()) == ["pod"]
    assert list(ctx.needed_images()) == ["quay.io/containerdisks/fedora:41"]
