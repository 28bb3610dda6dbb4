"""Bad inputs on the Source step end with a clear message and nothing half-saved."""

from __future__ import annotations

import io
import tarfile
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from migration import crypto
from migration.models import MigrationPlan
from migration.sources import MAX_TOTAL_BYTES, SourceError, parse_kubeconfig, read_uploads

pytestmark = pytest.mark.django_db


@pytest.fixture
def plan(acme, member):
    return MigrationPlan.objects.create(tenant=acme, owner=member, name="p")


def upload(client, plan, *files):
    return client.post(f"/migration/{plan.pk}/source/?action=upload", {"files": list(files), "go": "next"})


def zip_of(entries: dict[str, bytes], compression=zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def tgz_of(entries: dict[str, bytes], symlink: str | None = None) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, data in entries.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
        if symlink:
            info = tarfile.TarInfo(symlink)
            info.type = tarfile.SYMTYPE
            info.linkname = "/etc/passwd"
            archive.addfile(info)
    return buffer.getvalue()


def assert_refused(response, plan, text: str):
    assert response.status_code == 422
    body = response.content.decode()
    assert text in body, body[:3000]
    plan.refresh_from_db()
    assert plan.source_text == "" and not plan.items.exists()


def test_upload_of_several_files_and_archives(client, member, plan, multi_vm_yaml):
    client.force_login(member)
    docs = multi_vm_yaml.split("\n---\n")
    response = upload(
        client,
        plan,
        SimpleUploadedFile("web.yaml", docs[0].encode()),
        SimpleUploadedFile("more.zip", zip_of({"vms/db.yml": docs[1].encode(), "README.txt": b"ignored"})),
        SimpleUploadedFile("gpu.tar.gz", tgz_of({"gpu.json": docs[2].encode()})),
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    assert sorted(plan.items.values_list("name", flat=True)) == ["db", "gpu", "web"]
    plan.refresh_from_db()
    assert plan.source_kind == "upload" and "more.zip:vms/db.yml" in plan.source_description


def test_non_yaml_upload_is_refused(client, member, plan):
    client.force_login(member)
    assert_refused(upload(client, plan, SimpleUploadedFile("a.yaml", b"key: [unclosed")), plan, "Not valid YAML")
    assert_refused(upload(client, plan, SimpleUploadedFile("a.png", b"\x89PNG")), plan, "files are accepted")
    assert_refused(upload(client, plan, SimpleUploadedFile("a.yaml", b"\xff\xfe\x00")), plan, "not a text file")
    cm = b"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n"
    assert_refused(upload(client, plan, SimpleUploadedFile("a.yaml", cm)), plan, "no KubeVirt VirtualMachine")


def test_zip_with_path_traversal_is_refused(client, member, plan, multi_vm_yaml):
    client.force_login(member)
    evil = zip_of({"../../etc/cron.d/x.yaml": multi_vm_yaml.encode()})
    assert_refused(upload(client, plan, SimpleUploadedFile("evil.zip", evil)), plan, "unsafe path")
    absolute = zip_of({"/tmp/x.yaml": multi_vm_yaml.encode()})
    assert_refused(upload(client, plan, SimpleUploadedFile("abs.zip", absolute)), plan, "unsafe path")
    link = tgz_of({"a.yaml": multi_vm_yaml.encode()}, symlink="passwd.yaml")
    assert_refused(upload(client, plan, SimpleUploadedFile("link.tar.gz", link)), plan, "link")


def test_archive_bomb_is_refused(client, member, plan):
    client.force_login(member)
    bomb = zip_of({"big.yaml": b"a" * (MAX_TOTAL_BYTES + 1)})
    assert len(bomb) < 100_000
    assert_refused(upload(client, plan, SimpleUploadedFile("bomb.zip", bomb)), plan, "archive bomb")
    ratio = zip_of({"r.yaml": b"# " + b"x" * 2_000_000})
    assert_refused(upload(client, plan, SimpleUploadedFile("ratio.zip", ratio)), plan, "compressed more than")
    tbomb = tgz_of({"big.yaml": b"a" * (MAX_TOTAL_BYTES + 1)})
    assert_refused(upload(client, plan, SimpleUploadedFile("bomb.tgz", tbomb)), plan, "archive bomb")
    many = zip_of({f"f{i}.txt": b"" for i in range(600)}, zipfile.ZIP_STORED)
    assert_refused(upload(client, plan, SimpleUploadedFile("many.zip", many)), plan, "more than 500 entries")


def test_a_50_mb_upload_is_refused(client, member, plan):
    client.force_login(member)
    big = SimpleUploadedFile("big.yaml", b"#" * (50 * 1024 * 1024))
    assert_refused(upload(client, plan, big), plan, "the limit is 10.0 MB")


def test_read_uploads_limits_without_http():
    with pytest.raises(SourceError, match="limit"):
        read_uploads([SimpleUploadedFile("x.yaml", b"a" * (MAX_TOTAL_BYTES + 1))])


def test_pasting_garbage_keeps_the_previous_source(client, member, plan, multi_vm_yaml):
    client.force_login(member)
    client.post(f"/migration/{plan.pk}/source/?action=paste", {"manifests": multi_vm_yaml})
    response = client.post(f"/migration/{plan.pk}/source/?action=paste", {"manifests": "a: [b"})
    assert response.status_code == 422 and "Not valid YAML" in response.content.decode()
    plan.refresh_from_db()
    assert plan.source_text == multi_vm_yaml and plan.items.count() == 3


def test_kubeconfig_encryption_round_trip_and_key_binding(settings):
    token = crypto.encrypt(b"secret-kubeconfig")
    assert b"secret" not in token.encode()
    assert crypto.decrypt(token) == b"secret-kubeconfig"
    settings.SECRET_KEY = "another-key"
    with pytest.raises(ValueError, match="upload it again"):
        crypto.decrypt(token)


@pytest.mark.parametrize(
    "user,message",
    [
        ({"exec": {"command": "/bin/sh"}}, "exec"),
        ({"auth-provider": {"name": "oidc"}}, "exec or auth-provider"),
        ({"client-key": "/etc/ssh/ssh_host_rsa_key"}, "local files"),
    ],
)
def test_unsafe_kubeconfigs_are_refused(user, message):
    import yaml

    config = {
        "clusters": [{"name": "c", "cluster": {"server": "https://k8s.example:6443"}}],
        "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}],
        "current-context": "c",
        "users": [{"name": "u", "user": user}],
    }
    with pytest.raises(SourceError, match=message):
        parse_kubeconfig(yaml.safe_dump(config).encode())
    with pytest.raises(SourceError, match="not a kubeconfig"):
        parse_kubeconfig(b"a: 1")
