"""The approval page's placement preview asks fakepve for node capacity, over verified HTTPS."""

from __future__ import annotations

import pytest
from django.urls import reverse

from devstack.fakepve_demo import populate
from portal.models import VMRequest

from ..conftest import fakepve_endpoint

pytestmark = pytest.mark.django_db


@pytest.fixture
def live_endpoint(fakepve, fakepve_cafile, monkeypatch, acme):
    from provisioning.proxmox.endpoints import forget_clients

    populate(fakepve)
    forget_clients()
    endpoint = fakepve_endpoint(fakepve, fakepve_cafile, monkeypatch)
    acme.endpoint = endpoint
    acme.save()
    yield fakepve
    forget_clients()


def order(acme, template, memory_mib):
    return VMRequest.objects.create(
        tenant=acme,
        name=f"vm-{memory_mib}",
        template=template,
        sockets=1,
        cores=1,
        memory_mib=memory_mib,
        disk_gib=10,
        network=acme.networks.get(),
    )


def test_placement_preview_shows_capacity_and_choice(client, admin_user, acme, template, live_endpoint):
    vm = order(acme, template, 2048)
    client.force_login(admin_user)
    text = client.get(reverse("portal:approval-detail", args=["vm", vm.pk])).content.decode()
    assert "would place on" in text and "pve1 (online" in text and "pve2 (online" in text


def test_placement_preview_says_when_no_node_fits_or_is_online(client, admin_user, acme, template, live_endpoint):
    vm = order(acme, template, 1024 * 1024)  # 1 TiB: no node has that
    client.force_login(admin_user)
    text = client.get(reverse("portal:approval-detail", args=["vm", vm.pk])).content.decode()
    assert "nowhere: No allowed Proxmox node has 1048576 MiB of memory free." in text
    live_endpoint.set_node_offline("pve1")
    live_endpoint.set_node_offline("pve2")
    text = client.get(reverse("portal:approval-detail", args=["vm", vm.pk])).content.decode()
    assert "nowhere: None of the Proxmox nodes this tenant may use is online." in text


def test_placement_preview_reports_an_unreachable_proxmox(client, admin_user, acme, template, live_endpoint):
    vm = order(acme, template, 2048)
    live_endpoint.fail("GET", "/cluster/resources", 500, "boom")
    client.force_login(admin_user)
    response = client.get(reverse("portal:approval-detail", args=["vm", vm.pk]))
    assert response.status_code == 200 and "Proxmox could not be asked" in response.content.decode()
