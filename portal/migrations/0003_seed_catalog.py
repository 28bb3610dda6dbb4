from django.db import migrations

from portal.catalog import KUBERNETES_VERSIONS, U1_SERIES


def seed(apps, schema_editor):
    InstanceType = apps.get_model("portal", "InstanceType")
    KubernetesVersion = apps.get_model("portal", "KubernetesVersion")
    for name, vcpus, memory in U1_SERIES:
        InstanceType.objects.get_or_create(
            name=name,
            defaults={"vcpus": vcpus, "memory_mib": memory, "builtin": True, "description": "KubeVirt u1 series"},
        )
    for index, version in enumerate(KUBERNETES_VERSIONS):
        KubernetesVersion.objects.get_or_create(version=version, defaults={"is_default": index == 0})


class Migration(migrations.Migration):
    dependencies = [("portal", "0002_audit_append_only")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
