"""Built-in catalog data: the KubeVirt `u1` instance types and the Kubernetes versions offered by default."""

# name, vCPUs, memory MiB — the KubeVirt common-instancetypes u1 ("universal") series, 1:4 vCPU to memory
# except nano/micro/small and 2xmedium, so sizes mean the same thing here as on KubeVirt.
U1_SERIES = [
    ("u1.nano", 1, 512),
    ("u1.micro", 1, 1024),
    ("u1.small", 1, 2048),
    ("u1.medium", 1, 4096),
    ("u1.2xmedium", 2, 4096),
    ("u1.large", 2, 8192),
    ("u1.xlarge", 4, 16384),
    ("u1.2xlarge", 8, 32768),
    ("u1.4xlarge", 16, 65536),
    ("u1.8xlarge", 32, 131072),
]

KUBERNETES_VERSIONS = ["v1.33.4", "v1.32.8", "v1.31.12"]


def seed_catalog() -> None:
    from .models import InstanceType, KubernetesVersion

    for name, vcpus, memory in U1_SERIES:
        InstanceType.objects.update_or_create(
            name=name,
            defaults={
                "vcpus": vcpus,
                "memory_mib": memory,
                "builtin": True,
                "description": "KubeVirt u1 series",
            },
        )
    for index, version in enumerate(KUBERNETES_VERSIONS):
        KubernetesVersion.objects.update_or_create(version=version, defaults={"is_default": index == 0})
