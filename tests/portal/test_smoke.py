import pytest
from django.urls import reverse

from portal.models import VMRequest
from portal.states import State


@pytest.mark.django_db
def test_order_approve_flow_in_browser_views(client, member, admin_user, vm_order, acme):
    client.force_login(member)
    assert client.get(reverse("portal:dashboard")).status_code == 200
    assert client.get(reverse("portal:vm-create")).status_code == 200
    response = client.post(reverse("portal:vm-create") + "?tenant=acme", vm_order())
    assert response.status_code == 302, response.content.decode()[:3000]
    vm = VMRequest.objects.get(name="web-1")
    assert vm.state == State.PENDING_APPROVAL
    assert client.get(vm.get_absolute_url()).status_code == 200
    assert client.get(reverse("portal:vm-list")).status_code == 200
    client.force_login(admin_user)
    assert client.get(reverse("portal:approvals")).status_code == 200
    assert client.get(reverse("portal:approval-detail", args=["vm", vm.pk])).status_code == 200
    response = client.post(reverse("portal:approve", args=["vm", vm.pk]))
    assert response.status_code == 302
    vm.refresh_from_db()
    assert vm.state == State.APPROVED
    assert client.get(reverse("portal:audit")).status_code == 200
    assert client.get(reverse("portal:vm-history", args=[vm.pk])).status_code == 200
