"""The wizard on the shared KubeVirt samples (skipped when ../shared is absent)."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from migration.models import MigrationPlan

SAMPLES = Path(__file__).resolve().parents[2] / ".." / "shared" / "samples" / "kubevirt"
PICK = [
    "kubevirt-examples_vm-cirros.yaml",
    "kubevirt-examples_vm-alpine-multipvc.yaml",
    "cozystack_vm-instance_ubuntu-instancetype-gpu-multus.yaml",
    "kubevirt-examples_vmi-multus-multiple-net.yaml",
]

pytestmark = pytest.mark.django_db


def test_archive_of_samples_lists_every_vm_with_concerns(client, member, acme):
    if not SAMPLES.is_dir():
        pytest.skip(f"../shared not found: {SAMPLES}")
    files = [SAMPLES / name for name in PICK if (SAMPLES / name).exists()]
    if len(files) < 2:
        pytest.skip("the chosen samples are not in ../shared")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in files:
            archive.writestr(f"samples/{path.name}", path.read_bytes())
    plan = MigrationPlan.objects.create(tenant=acme, owner=member, name="samples")
    client.force_login(member)
    response = client.post(
        f"/migration/{plan.pk}/source/?action=upload",
        {"files": [SimpleUploadedFile("samples.zip", buffer.getvalue())]},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    items = list(plan.items.all())
    assert len(items) >= len(files)
    page = client.get(f"/migration/{plan.pk}/select/").content.decode()
    for item in items:
        assert f'data-vm="{item.key}"' in page
    # The network step offers every multus network the samples use.
    client.post(f"/migration/{plan.pk}/select/", {"selected": [i.pk for i in items], "accept": [i.pk for i in items]})
    network_page = client.get(f"/migration/{plan.pk}/network/").content.decode()
    multus = {n for i in items for n in i.summary["networks"] if n != "pod"}
    assert multus and all(f'data-network="{n}"' in network_page for n in multus)
