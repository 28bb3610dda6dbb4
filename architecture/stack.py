"""Curated platform knowledge as plain Python data (no Django, no I/O).

Everything here is written from the facts collected in the project research (Cozystack legacy bundles v0.41,
the upstream ``paas-proxmox`` branch bundle, capmox/Kamaji notes). It feeds:

* :mod:`architecture.bundle` - roles/descriptions of components and the curated ``paas-proxmox`` stack;
* :mod:`architecture.lint` - what a component needs (``REQUIREMENTS``), Proxmox essentials and
  KubeVirt-bound parts;
* the architecture pages - layers, roles, the two provisioning flows and the comparison table.
"""

from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatchcase

# --------------------------------------------------------------------------------------------------
# Roles and layers
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Role:
    id: str
    label: str
    colour: str  # fill colour used by the SVG graph and the stack page


@dataclass(frozen=True)
class Layer:
    id: str
    title: str
    summary: str
    roles: tuple[str, ...]


ROLES: dict[str, Role] = {
    role.id: role
    for role in (
        Role("gitops", "GitOps", "#e0d4f7"),
        Role("networking", "Networking", "#cfe2ff"),
        Role("storage", "Storage", "#fde2c4"),
        Role("virtualization", "Virtualization", "#f8d0d0"),
        Role("platform", "Platform core", "#d7f0dd"),
        Role("security", "Certificates & identity", "#fff3b0"),
        Role("capi", "Cluster API", "#c9ecef"),
        Role("control-plane", "Tenant control planes", "#bfe3d0"),
        Role("monitoring", "Monitoring", "#e6e6e6"),
        Role("databases", "Databases & queues", "#f3d9ec"),
        Role("operations", "Operations", "#ece5d8"),
        Role("other", "Other", "#ffffff"),
    )
}

# Bottom (infrastructure) to top (services); every role belongs to exactly one layer.
LAYERS: tuple[Layer, ...] = (
    Layer(
        "infrastructure",
        "Infrastructure",
        "Where VMs run and how Kubernetes talks to the hypervisor.",
        ("virtualization",),
    ),
    Layer("network", "Network", "Pod networking, load balancers and DNS.", ("networking",)),
    Layer("storage", "Storage", "Persistent volumes, replication and snapshots.", ("storage",)),
    Layer(
        "platform",
        "Platform",
        "GitOps delivery, the Cozystack API/controller, certificates and identity.",
        ("gitops", "platform", "security"),
    ),
    Layer(
        "clusters",
        "Cluster lifecycle",
        "Cluster API providers and hosted (Kamaji) control planes for tenant clusters.",
        ("capi", "control-plane"),
    ),
    Layer(
        "services",
        "Services",
        "Managed databases, monitoring and day-2 operations.",
        ("databases", "monitoring", "operations", "other"),
    ),
)

ROLE_TO_LAYER: dict[str, str] = {role: layer.id for layer in LAYERS for role in layer.roles}


# --------------------------------------------------------------------------------------------------
# Component catalogue: what each known component does
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ComponentInfo:
    role: str
    description: str


_CATALOGUE: dict[str, ComponentInfo] = {
    # GitOps
    "fluxcd-operator": ComponentInfo("gitops", "Flux operator: installs and upgrades the Flux controllers."),
    "fluxcd": ComponentInfo("gitops", "Flux instance: reconciles every platform and tenant HelmRelease."),
    # Networking
    "cilium": ComponentInfo("networking", "eBPF data plane, kube-proxy replacement and network policies."),
    "cilium-networkpolicy": ComponentInfo("networking", "Default Cilium network policies for the platform."),
    "kubeovn": ComponentInfo("networking", "Kube-OVN overlay: subnets, VPCs and pod IP management."),
    "kubeovn-webhook": ComponentInfo("networking", "Admission webhook guarding Kube-OVN objects."),
    "kubeovn-plunger": ComponentInfo("networking", "Kube-OVN companion controller shipped with the full bundles."),
    "multus": ComponentInfo("networking", "Secondary pod/VM interfaces (NetworkAttachmentDefinitions)."),
    "cozy-proxy": ComponentInfo("networking", "WholeIP NAT for LoadBalancer services of KubeVirt VMs."),
    "metallb": ComponentInfo("networking", "LoadBalancer IPs on L2/BGP (replaces kubevirt-ccm on Proxmox)."),
    "external-dns": ComponentInfo("networking", "Publishes service and ingress names to external DNS."),
    "hetzner-robotlb": ComponentInfo("networking", "LoadBalancer integration for Hetzner Robot servers."),
    # Storage
    "proxmox-csi": ComponentInfo(
        "storage",
        "Proxmox CSI plugin (csi.proxmox.sinextra.dev) for volumes on Proxmox storage; the chart also ships "
        "the Proxmox cloud controller manager.",
    ),
    "proxmox-csi-operator": ComponentInfo("storage", "Operator for the Proxmox CSI plugin (2024 kubemox era)."),
    "proxmox-csi-node": ComponentInfo("storage", "Node part of the Proxmox CSI plugin."),
    "snapshot-controller": ComponentInfo("storage", "CSI VolumeSnapshot controller and CRDs."),
    "piraeus-operator": ComponentInfo("storage", "Piraeus operator that deploys and manages LINSTOR."),
    "linstor": ComponentInfo("storage", "LINSTOR/DRBD replicated block storage (storage class 'replicated')."),
    "linstor-scheduler": ComponentInfo("storage", "Scheduler extender placing pods next to their LINSTOR replicas."),
    "nfs-driver": ComponentInfo("storage", "CSI driver for NFS shares."),
    "objectstorage-controller": ComponentInfo("storage", "COSI controller for S3 buckets."),
    "velero": ComponentInfo("operations", "Backup and restore of Kubernetes resources and volumes."),
    # Virtualization / cloud integration
    "proxmox-ccm": ComponentInfo(
        "virtualization", "Proxmox cloud controller manager: node providerID, region/zone labels, lifecycle."
    ),
    "proxmox-ve": ComponentInfo("virtualization", "Basic Proxmox VE integration objects (branch chart)."),
    "proxmox-worker": ComponentInfo(
        "virtualization", "Joins a Proxmox VE host itself as a kubeadm worker node (branch chart)."
    ),
    "kubevirt-operator": ComponentInfo("virtualization", "Installs and upgrades KubeVirt."),
    "kubevirt": ComponentInfo("virtualization", "KubeVirt: runs VMs as QEMU processes inside virt-launcher pods."),
    "kubevirt-instancetypes": ComponentInfo("virtualization", "KubeVirt cluster instance types and preferences."),
    "kubevirt-cdi-operator": ComponentInfo("virtualization", "Installs the Containerized Data Importer."),
    "kubevirt-cdi": ComponentInfo("virtualization", "CDI: imports/uploads VM disk images into PVCs (DataVolumes)."),
    "vm-default-images": ComponentInfo("virtualization", "Golden KubeVirt images (DataVolumes) in cozy-public."),
    "gpu-operator": ComponentInfo("virtualization", "NVIDIA GPU operator (passthrough wiring for KubeVirt VMs)."),
    # Platform core
    "cozystack-controller": ComponentInfo("platform", "Cozystack controller: workload monitors, lineage, tenants."),
    "cozystack-api": ComponentInfo("platform", "Aggregated API server serving apps.cozystack.io kinds."),
    "lineage-controller-webhook": ComponentInfo(
        "platform", "Admission webhook recording which app owns each object (lineage)."
    ),
    "cozystack-resource-definition-crd": ComponentInfo(
        "platform", "CRD for ApplicationDefinitions (registers app kinds in the API)."
    ),
    "cozystack-resource-definitions": ComponentInfo("platform", "ApplicationDefinitions for the tenant apps."),
    "dashboard": ComponentInfo("platform", "Cozystack web dashboard (Kubeapps in the legacy bundles)."),
    "bootbox": ComponentInfo("platform", "Network boot service for bare-metal nodes (optional)."),
    "telepresence": ComponentInfo("operations", "Telepresence traffic manager for developer access."),
    "reloader": ComponentInfo("operations", "Restarts workloads when their ConfigMaps/Secrets change."),
    "goldpinger": ComponentInfo("monitoring", "Node-to-node connectivity probes."),
    "vertical-pod-autoscaler": ComponentInfo("operations", "Vertical pod autoscaler (resource recommendations)."),
    "vertical-pod-autoscaler-crds": ComponentInfo("operations", "CRDs of the vertical pod autoscaler."),
    # Security / identity
    "cert-manager-crds": ComponentInfo("security", "cert-manager CRDs (installed before cert-manager)."),
    "cert-manager": ComponentInfo("security", "Issues TLS certificates; webhooks of CAPI/Kamaji need it."),
    "cert-manager-issuers": ComponentInfo("security", "Cluster issuers (self-signed CA, ACME)."),
    "keycloak": ComponentInfo("security", "Keycloak identity provider (OIDC login)."),
    "keycloak-operator": ComponentInfo("security", "Keycloak operator (realms, clients)."),
    "keycloak-configure": ComponentInfo("security", "Creates the Cozystack realm, clients and groups."),
    "external-secrets-operator": ComponentInfo("security", "Syncs secrets from external secret stores."),
    # Cluster API
    "capi-operator": ComponentInfo("capi", "Cluster API operator: installs CAPI providers from CRs."),
    "capi-providers": ComponentInfo("capi", "Cluster API providers (one chart; which ones is set in values)."),
    "capi-providers-core": ComponentInfo("capi", "CAPI core provider (Cluster, Machine, MachineDeployment)."),
    "capi-providers-bootstrap": ComponentInfo("capi", "CAPI bootstrap provider (kubeadm/Talos node configs)."),
    "capi-providers-cpprovider": ComponentInfo("capi", "CAPI control-plane provider for Kamaji."),
    "capi-providers-infraprovider": ComponentInfo("capi", "CAPI infrastructure provider for KubeVirt (CAPK)."),
    "capi-providers-proxmox": ComponentInfo(
        "capi", "capmox: CAPI infrastructure provider that clones Proxmox templates into VMs."
    ),
    "capi-providers-ipam": ComponentInfo(
        "capi", "CAPI in-cluster IPAM provider: static IP pools for capmox (no DHCP)."
    ),
    # Tenant control planes
    "kamaji": ComponentInfo("control-plane", "Kamaji: tenant Kubernetes control planes as pods."),
    "etcd-operator": ComponentInfo("control-plane", "etcd operator: tenant etcd clusters (Kamaji datastore)."),
    # Monitoring
    "prometheus-operator-crds": ComponentInfo("monitoring", "Prometheus operator CRDs (ServiceMonitor etc.)."),
    "victoria-metrics-operator": ComponentInfo("monitoring", "VictoriaMetrics operator (metrics storage)."),
    "monitoring": ComponentInfo("monitoring", "Platform monitoring stack (VictoriaMetrics, Grafana, alerts)."),
    "monitoring-agents": ComponentInfo("monitoring", "Metric and log collectors on every node."),
    "metrics-server": ComponentInfo("monitoring", "Resource metrics API (kubectl top, autoscaling)."),
    "grafana-operator": ComponentInfo("monitoring", "Grafana operator (dashboards, data sources)."),
    # Databases & queues
    "postgres-operator": ComponentInfo("databases", "CloudNativePG operator for managed PostgreSQL."),
    "mariadb-operator": ComponentInfo("databases", "MariaDB operator for managed MySQL/MariaDB."),
    "redis-operator": ComponentInfo("databases", "Redis operator."),
    "rabbitmq-operator": ComponentInfo("databases", "RabbitMQ cluster operator."),
    "kafka-operator": ComponentInfo("databases", "Strimzi Kafka operator."),
    "clickhouse-operator": ComponentInfo("databases", "ClickHouse operator."),
    "foundationdb-operator": ComponentInfo("databases", "FoundationDB operator."),
    "mongodb-operator": ComponentInfo("databases", "MongoDB operator."),
}

# Name patterns for components not listed above (first match wins).
_PATTERNS: tuple[tuple[str, ComponentInfo], ...] = (
    ("capi-provider*", ComponentInfo("capi", "Cluster API provider.")),
    ("*kubevirt*", ComponentInfo("virtualization", "KubeVirt component.")),
    ("proxmox-*", ComponentInfo("virtualization", "Proxmox integration component.")),
    ("*-operator", ComponentInfo("databases", "Kubernetes operator.")),
)

_UNKNOWN = ComponentInfo("other", "Component not in the portal's catalogue.")


def component_info(name: str) -> ComponentInfo:
    """Role and description for a component name (exact entry, then name patterns, then 'other')."""
    if name in _CATALOGUE:
        return _CATALOGUE[name]
    if name.endswith("-rd"):
        app = name.removesuffix("-rd")
        return ComponentInfo("platform", f"ApplicationDefinition registering the '{app}' app kind in the API.")
    for pattern, info in _PATTERNS:
        if fnmatchcase(name, pattern):
            return info
    return _UNKNOWN


def known_components() -> tuple[str, ...]:
    return tuple(_CATALOGUE)


# --------------------------------------------------------------------------------------------------
# What components need (linter knowledge). Alternatives = equivalent providers of one capability.
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Requirement:
    capability: str  # human label, e.g. "an etcd datastore provider"
    alternatives: tuple[str, ...]  # component names (fnmatch patterns allowed) that provide it
    why: str


ETCD_PROVIDERS = ("etcd-operator", "kamaji-etcd", "etcd", "etcd-application")
CERT_MANAGER = ("cert-manager",)
CAPI_OPERATOR = ("capi-operator",)

# Component name pattern -> what it needs. Patterns are matched with fnmatch against entry names.
REQUIREMENTS: dict[str, tuple[Requirement, ...]] = {
    "fluxcd": (Requirement("the Flux operator", ("fluxcd-operator",), "the Flux instance is an operator CR"),),
    "kubeovn-webhook": (Requirement("Kube-OVN", ("kubeovn",), "it validates Kube-OVN objects"),),
    "kubeovn-plunger": (Requirement("Kube-OVN", ("kubeovn",), "it repairs Kube-OVN state"),),
    "cilium-networkpolicy": (Requirement("Cilium", ("cilium",), "the policies are Cilium CRs"),),
    "cozystack-api": (
        Requirement("the Cozystack controller", ("cozystack-controller",), "the API serves what it manages"),
    ),
    "lineage-controller-webhook": (
        Requirement("the Cozystack controller", ("cozystack-controller",), "the webhook belongs to it"),
        Requirement("cert-manager", CERT_MANAGER, "the webhook certificate is issued by cert-manager"),
    ),
    "cozystack-resource-definition-crd": (
        Requirement("the Cozystack controller", ("cozystack-controller",), "it watches ApplicationDefinitions"),
    ),
    "cozystack-resource-definitions": (
        Requirement(
            "the ApplicationDefinition CRD",
            ("cozystack-resource-definition-crd",),
            "the definitions are instances of that CRD",
        ),
    ),
    "*-rd": (
        Requirement(
            "the ApplicationDefinition CRD",
            ("cozystack-resource-definition-crd",),
            "each *-rd chart is an ApplicationDefinition",
        ),
    ),
    "cert-manager-issuers": (Requirement("cert-manager", CERT_MANAGER, "issuers are cert-manager CRs"),),
    "capi-operator": (Requirement("cert-manager", CERT_MANAGER, "the CAPI operator webhooks need certificates"),),
    "capi-provider*": (
        Requirement("the CAPI operator", CAPI_OPERATOR, "providers are installed through capi-operator CRs"),
        Requirement("cert-manager", CERT_MANAGER, "every CAPI provider serves webhooks with cert-manager certs"),
    ),
    "capi-providers-infraprovider": (
        Requirement("KubeVirt", ("kubevirt",), "this legacy infraprovider chart is CAPK (KubeVirt)"),
    ),
    "capi-provider-infra-kubevirt": (Requirement("KubeVirt", ("kubevirt",), "CAPK creates KubeVirt VMs"),),
    "kamaji": (
        Requirement(
            "an etcd/datastore provider",
            ETCD_PROVIDERS,
            "Kamaji keeps every tenant control plane's state in a DataStore (tenant etcd)",
        ),
        Requirement("cert-manager", CERT_MANAGER, "Kamaji webhooks need certificates"),
    ),
    "etcd-operator": (Requirement("cert-manager", CERT_MANAGER, "etcd peer/client TLS comes from cert-manager"),),
    "kubevirt": (Requirement("the KubeVirt operator", ("kubevirt-operator",), "the KubeVirt CR needs it"),),
    "kubevirt-instancetypes": (Requirement("KubeVirt", ("kubevirt",), "instance types are KubeVirt CRs"),),
    "kubevirt-cdi": (Requirement("the CDI operator", ("kubevirt-cdi-operator",), "the CDI CR needs it"),),
    "linstor": (
        Requirement("the Piraeus operator", ("piraeus-operator",), "LINSTOR is deployed by Piraeus"),
        Requirement("the snapshot controller", ("snapshot-controller",), "LINSTOR snapshots use its CRDs"),
    ),
    "linstor-scheduler": (Requirement("LINSTOR", ("linstor",), "it schedules against LINSTOR replicas"),),
    "piraeus-operator": (Requirement("cert-manager", CERT_MANAGER, "Piraeus webhooks need certificates"),),
    "monitoring": (Requirement("the VictoriaMetrics operator", ("victoria-metrics-operator",), "it creates VM* CRs"),),
    "monitoring-agents": (
        Requirement("the VictoriaMetrics operator", ("victoria-metrics-operator",), "agents are VMAgent CRs"),
    ),
    "keycloak": (Requirement("the PostgreSQL operator", ("postgres-operator",), "Keycloak's DB is CNPG"),),
    "keycloak-operator": (Requirement("Keycloak", ("keycloak",), "the operator configures that instance"),),
    "keycloak-configure": (Requirement("the Keycloak operator", ("keycloak-operator",), "realms are its CRs"),),
    "vertical-pod-autoscaler": (
        Requirement("the VPA CRDs", ("vertical-pod-autoscaler-crds",), "the autoscaler watches its CRs"),
    ),
}


def requirements_for(name: str) -> tuple[Requirement, ...]:
    """All requirements whose pattern matches ``name`` (exact key first, then patterns)."""
    found: list[Requirement] = []
    for pattern, reqs in REQUIREMENTS.items():
        if pattern == name or fnmatchcase(name, pattern):
            found.extend(req for req in reqs if req not in found)
    return tuple(found)


# --------------------------------------------------------------------------------------------------
# Proxmox flavour: essentials and KubeVirt-bound components
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Essential:
    id: str
    label: str
    provided_by: tuple[str, ...]  # fully satisfies the essential
    weakly_provided_by: tuple[str, ...]  # generic chart that may provide it; not visible in the bundle
    why: str
    hint: str


PROXMOX_ESSENTIALS: tuple[Essential, ...] = (
    Essential(
        "proxmox-csi",
        "Proxmox CSI driver",
        ("proxmox-csi", "proxmox-csi-plugin", "proxmox-csi-operator"),
        (),
        "persistent volumes of the management cluster live on Proxmox storage",
        "Add a 'proxmox-csi' release (sergelogvinov proxmox-csi-plugin chart).",
    ),
    Essential(
        "proxmox-ccm",
        "Proxmox cloud controller manager",
        # The branch's proxmox-csi chart ships proxmox-cloud-controller-manager as well.
        ("proxmox-ccm", "proxmox-cloud-controller-manager", "proxmox-csi"),
        (),
        "nodes need providerID and region/zone labels from Proxmox",
        "Add 'proxmox-ccm', or use the proxmox-csi chart that bundles the CCM.",
    ),
    Essential(
        "capmox",
        "capmox (Cluster API infrastructure provider for Proxmox)",
        (
            "capi-providers-proxmox",
            "capmox",
            "capi-provider-infra-proxmox",
            "capi-providers-infraprovider-proxmox",
            "cluster-api-provider-proxmox",
        ),
        ("capi-providers",),
        "tenant cluster nodes are Proxmox VMs cloned by capmox",
        "Add a 'capi-providers-proxmox' release (InfrastructureProvider proxmox) depending on capi-operator.",
    ),
    Essential(
        "ipam",
        "CAPI IPAM provider (in-cluster)",
        (
            "capi-providers-ipam",
            "capi-provider-ipam-in-cluster",
            "capi-ipam-in-cluster",
            "ipam-in-cluster",
            "cluster-api-ipam-provider-in-cluster",
        ),
        (),
        "capmox has no DHCP: every VM address is claimed from an InClusterIPPool",
        "Add the CAPI in-cluster IPAM provider ('capi-providers-ipam') depending on capi-operator.",
    ),
    Essential(
        "load-balancer",
        "MetalLB (LoadBalancer services)",
        ("metallb", "kube-vip"),
        (),
        "without KubeVirt's cloud provider, LoadBalancer services (and Kamaji endpoints) need MetalLB",
        "Add a 'metallb' release with an address pool on the Proxmox bridge network.",
    ),
)

# Marker names that make a bundle "proxmox" flavoured.
PROXMOX_MARKERS: tuple[str, ...] = ("*proxmox*", "capmox")


@dataclass(frozen=True)
class KubevirtBinding:
    pattern: str
    severity: str  # error | warning | info
    reason: str


KUBEVIRT_BOUND: tuple[KubevirtBinding, ...] = (
    KubevirtBinding("kubevirt*", "error", "KubeVirt runs VMs inside pods; on Proxmox VMs live in the hypervisor"),
    KubevirtBinding("*kubevirt*", "error", "KubeVirt-specific component"),
    KubevirtBinding("vm-default-images", "error", "golden images are KubeVirt DataVolumes"),
    KubevirtBinding("capi-providers-infraprovider", "error", "the legacy infraprovider chart installs CAPK (KubeVirt)"),
    KubevirtBinding("virtual-machine-rd", "warning", "the virtual-machine app renders KubeVirt objects"),
    KubevirtBinding("vm-instance-rd", "warning", "the vm-instance app renders KubeVirt VirtualMachines"),
    KubevirtBinding("vm-disk-rd", "warning", "the vm-disk app renders CDI DataVolumes"),
    KubevirtBinding("kubernetes-rd", "warning", "the kubernetes app renders KubevirtCluster/KubevirtMachines"),
    KubevirtBinding("cozy-proxy", "info", "cozy-proxy implements WholeIP NAT for KubeVirt VMs"),
)


def kubevirt_binding(name: str) -> KubevirtBinding | None:
    for binding in KUBEVIRT_BOUND:
        if fnmatchcase(name, binding.pattern):
            return binding
    return None


CORE_COMPONENTS: tuple[tuple[str, str], ...] = (
    ("cozystack-controller", "the Cozystack controller reconciles tenants and apps"),
    ("cert-manager", "webhooks of Cozystack, CAPI, Kamaji and LINSTOR need certificates"),
)
GITOPS_COMPONENTS: tuple[str, ...] = ("fluxcd", "fluxcd-operator")


# --------------------------------------------------------------------------------------------------
# The curated paas-proxmox stack (the portal's intended platform)
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CuratedComponent:
    name: str
    namespace: str
    depends_on: tuple[str, ...] = ()
    privileged: bool = False
    optional: bool = False
    release_name: str = ""  # defaults to name
    chart: str = ""  # defaults to cozy-<name>
    description: str = ""  # defaults to the catalogue entry


_NET = ("cilium", "kubeovn")

CURATED_NAME = "paas-proxmox (portal curated)"

# Management cluster = Talos VMs on Proxmox. KubeVirt/CDI/multus/cozy-proxy are deliberately absent:
# VMs are Proxmox VMs (capmox or the portal's direct Proxmox API calls), not pods.
CURATED_PAAS_PROXMOX: tuple[CuratedComponent, ...] = (
    # GitOps first: every other release is a Flux HelmRelease.
    CuratedComponent("fluxcd-operator", "cozy-fluxcd", privileged=True),
    CuratedComponent("fluxcd", "cozy-fluxcd", ("fluxcd-operator", *_NET)),
    # Networking
    CuratedComponent("cilium", "cozy-cilium", privileged=True),
    CuratedComponent("kubeovn", "cozy-kubeovn", ("cilium",), privileged=True),
    CuratedComponent("metallb", "cozy-metallb", _NET, privileged=True),
    # Certificates
    CuratedComponent("cert-manager-crds", "cozy-cert-manager", _NET),
    CuratedComponent("cert-manager", "cozy-cert-manager", ("cert-manager-crds",)),
    CuratedComponent("cert-manager-issuers", "cozy-cert-manager", (*_NET, "cert-manager")),
    # Platform core
    CuratedComponent("cozystack-controller", "cozy-system", _NET),
    CuratedComponent("cozystack-api", "cozy-system", (*_NET, "cozystack-controller")),
    CuratedComponent("lineage-controller-webhook", "cozy-system", ("cozystack-controller", *_NET, "cert-manager")),
    CuratedComponent(
        "cozystack-resource-definition-crd",
        "cozy-system",
        (*_NET, "cozystack-api", "cozystack-controller"),
        chart="cozystack-resource-definition-crd",
    ),
    *(
        CuratedComponent(f"{app}-rd", "cozy-system", ("cozystack-resource-definition-crd",))
        for app in ("tenant", "etcd", "ingress", "monitoring", "postgres", "mysql", "redis", "rabbitmq")
    ),
    CuratedComponent("dashboard", "cozy-dashboard", (*_NET, "cozystack-api")),
    # Proxmox integration
    CuratedComponent(
        "proxmox-csi",
        "cozy-proxmox-csi",
        (*_NET, "cert-manager"),
        privileged=True,
        description="Proxmox CSI plugin and Proxmox CCM from one chart (sergelogvinov): volumes on Proxmox "
        "storage, node providerID and region/zone labels.",
    ),
    # Storage
    CuratedComponent("snapshot-controller", "cozy-snapshot-controller", (*_NET, "cert-manager")),
    CuratedComponent("piraeus-operator", "cozy-linstor", (*_NET, "cert-manager", "victoria-metrics-operator")),
    CuratedComponent(
        "linstor",
        "cozy-linstor",
        ("piraeus-operator", *_NET, "cert-manager", "snapshot-controller"),
        privileged=True,
    ),
    # Monitoring
    CuratedComponent("victoria-metrics-operator", "cozy-victoria-metrics-operator", (*_NET, "cert-manager")),
    CuratedComponent("metrics-server", "cozy-monitoring", _NET),
    CuratedComponent(
        "monitoring-agents",
        "cozy-monitoring",
        ("victoria-metrics-operator", "metrics-server"),
        privileged=True,
    ),
    CuratedComponent("grafana-operator", "cozy-grafana-operator", _NET),
    # Tenant control planes
    CuratedComponent("etcd-operator", "cozy-etcd-operator", (*_NET, "cert-manager")),
    CuratedComponent("kamaji", "cozy-kamaji", (*_NET, "cert-manager", "etcd-operator")),
    # Cluster API
    CuratedComponent("capi-operator", "cozy-cluster-api", (*_NET, "cert-manager"), privileged=True),
    CuratedComponent("capi-providers-core", "cozy-cluster-api", (*_NET, "capi-operator"), privileged=True),
    CuratedComponent("capi-providers-bootstrap", "cozy-cluster-api", (*_NET, "capi-operator"), privileged=True),
    CuratedComponent(
        "capi-providers-cpprovider", "cozy-cluster-api", ("capi-operator", "capi-providers-core", "kamaji")
    ),
    CuratedComponent(
        "capi-providers-ipam", "cozy-cluster-api", ("capi-operator", "capi-providers-core"), privileged=True
    ),
    CuratedComponent(
        "capi-providers-proxmox",
        "cozy-cluster-api",
        ("capi-operator", "capi-providers-core", "capi-providers-ipam"),
        privileged=True,
    ),
    # Databases
    CuratedComponent("postgres-operator", "cozy-postgres-operator", (*_NET, "cert-manager")),
    CuratedComponent("mariadb-operator", "cozy-mariadb-operator", (*_NET, "cert-manager", "victoria-metrics-operator")),
    CuratedComponent("redis-operator", "cozy-redis-operator", _NET),
    CuratedComponent("rabbitmq-operator", "cozy-rabbitmq-operator", _NET),
    # Operations
    CuratedComponent("velero", "cozy-velero", ("monitoring-agents",), privileged=True, optional=True),
)


# --------------------------------------------------------------------------------------------------
# Provisioning flows and the KubeVirt vs Proxmox comparison (rendered by the architecture pages)
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FlowStep:
    actor: str  # who acts
    action: str  # what happens
    where: str  # where it runs (cluster pod, Proxmox host, portal worker, ...)
    objects: tuple[str, ...] = ()  # API objects / calls involved


@dataclass(frozen=True)
class Flow:
    id: str
    title: str
    summary: str
    vm_location: str
    steps: tuple[FlowStep, ...]


FLOWS: dict[str, Flow] = {
    "kubevirt": Flow(
        "kubevirt",
        "KubeVirt (upstream Cozystack)",
        "A VM is a Kubernetes workload: QEMU runs inside a pod on a cluster node.",
        "QEMU process inside the virt-launcher pod on a Kubernetes node",
        (
            FlowStep(
                "Tenant",
                "Creates VMDisk and VMInstance apps through the Cozystack API or dashboard.",
                "management cluster API",
                ("apps.cozystack.io/v1alpha1 VMDisk", "apps.cozystack.io/v1alpha1 VMInstance"),
            ),
            FlowStep(
                "Flux",
                "Reconciles the app's HelmRelease and renders KubeVirt/CDI objects.",
                "management cluster",
                ("HelmRelease", "DataVolume", "VirtualMachine"),
            ),
            FlowStep(
                "CDI",
                "Imports or clones the disk image into a PVC (e.g. LINSTOR 'replicated').",
                "importer pod",
                ("DataVolume", "PersistentVolumeClaim"),
            ),
            FlowStep(
                "virt-controller",
                "Turns the VirtualMachine into a VirtualMachineInstance and a virt-launcher pod.",
                "management cluster",
                ("VirtualMachineInstance", "Pod virt-launcher-*"),
            ),
            FlowStep(
                "kube-scheduler",
                "Places the virt-launcher pod on a node with enough CPU/memory.",
                "management cluster",
                ("Pod",),
            ),
            FlowStep(
                "virt-handler / libvirt",
                "Starts QEMU/KVM inside the virt-launcher pod; network via the pod (Kube-OVN/Multus).",
                "virt-launcher pod on the node",
                ("QEMU in a pod",),
            ),
        ),
    ),
    "proxmox": Flow(
        "proxmox",
        "Proxmox (this portal)",
        "A VM is a Proxmox VM: the portal or capmox asks the Proxmox API to clone a template.",
        "QEMU/KVM process directly on a Proxmox VE host",
        (
            FlowStep(
                "Tenant",
                "Submits a VM or cluster request in the portal; quota is checked.",
                "portal",
                ("Request",),
            ),
            FlowStep("Admin", "Approves the request (audited).", "portal", ("Approval",)),
            FlowStep(
                "Portal worker",
                "Plain VM: calls the Proxmox API. Cluster: applies CAPI objects to the management cluster.",
                "Celery worker",
                (
                    "POST /nodes/{node}/qemu/{template}/clone",
                    "Cluster + KamajiControlPlane + ProxmoxCluster",
                    "MachineDeployment + ProxmoxMachineTemplate + KubeadmConfigTemplate",
                ),
            ),
            FlowStep(
                "CAPI / capmox",
                "For each Machine: picks node and VMID, claims a static IP from the InClusterIPPool.",
                "management cluster",
                ("Machine", "ProxmoxMachine", "IPAddressClaim"),
            ),
            FlowStep(
                "Proxmox API",
                "Clones the template, sets sockets/cores/memory/NICs, resizes the boot disk, attaches "
                "the cloud-init NoCloud ISO.",
                "Proxmox VE cluster",
                ("clone", "config", "resize", "cloud-init ISO"),
            ),
            FlowStep(
                "Proxmox host",
                "Starts the VM; capmox waits for qemu-guest-agent and cloud-init; the portal shows the status.",
                "hypervisor",
                ("VM in the hypervisor",),
            ),
        ),
    ),
}


@dataclass(frozen=True)
class ComparisonRow:
    aspect: str
    kubevirt: str
    proxmox: str


COMPARISON: tuple[ComparisonRow, ...] = (
    ComparisonRow(
        "VM location",
        "Inside a virt-launcher pod on a Kubernetes node; on a Proxmox-hosted cluster this means a VM "
        "nested inside a VM.",
        "Directly in the Proxmox hypervisor, outside Kubernetes.",
    ),
    ComparisonRow(
        "Performance",
        "Near-native on bare metal; on Proxmox VMs it needs nested virtualization and pays its overhead.",
        "Native KVM on the host, no nesting.",
    ),
    ComparisonRow(
        "Management",
        "Kubernetes objects (VirtualMachine, DataVolume) via kubectl/virtctl, Flux and the Cozystack dashboard.",
        "Proxmox API/UI plus the portal; cluster nodes as CAPI objects (capmox).",
    ),
    ComparisonRow(
        "Snapshots",
        "CSI VolumeSnapshots (snapshot-controller) and KubeVirt VM snapshots; depend on the storage class.",
        "Proxmox VM snapshots and vzdump backups; depend on the Proxmox storage type.",
    ),
    ComparisonRow(
        "Migration",
        "KubeVirt live migration between nodes; needs ReadWriteMany (shared) volumes.",
        "Proxmox live migration between cluster nodes (shared storage or local-disk migration).",
    ),
    ComparisonRow(
        "Resource use",
        "Each VM adds a pod, virt-launcher and libvirt overhead; counted by namespace ResourceQuotas.",
        "VMs consume hypervisor resources that Kubernetes quotas do not see; the portal accounts for them.",
    ),
    ComparisonRow(
        "Portability",
        "Same manifests on any Kubernetes with KubeVirt and CDI.",
        "Tied to Proxmox VE (templates, storages, bridges); capmox hides part of it for cluster nodes.",
    ),
    ComparisonRow(
        "Complexity",
        "KubeVirt, CDI, Multus and Kube-OVN inside the cluster; one control plane for everything.",
        "Fewer layers per VM, but two control planes (Kubernetes and Proxmox) plus capmox, IPAM, CCM and CSI.",
    ),
)
