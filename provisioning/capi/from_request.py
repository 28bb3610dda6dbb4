"""Build a ClusterSpec (and the credentials) from the portal's models.

The only place (with tasks_impl) that reads Django settings for clusters, so render/apply stay pure.
"""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.db import transaction
from django.db.models import Q

from portal.models import ClusterRequest, NodeGroup, OSTemplate, ProxmoxEndpoint
from portal.states import State

from .apply import ProxmoxCredentials
from .spec import CloneSource, ClusterSpec, NodeGroupSpec, NodeNetwork, SpecError, allocate_vmid_block

VMID_BLOCK_KEY = "vmid_range"
INACTIVE_STATES = {State.DELETED, State.REJECTED, State.CANCELLED}


def _setting(name: str, default):
    return getattr(settings, name, default)


def endpoint_for(request: ClusterRequest) -> ProxmoxEndpoint:
    endpoint = request.tenant.endpoint or ProxmoxEndpoint.objects.filter(is_default=True, enabled=True).first()
    if endpoint is None:
        raise SpecError(f"tenant {request.tenant.slug!r} has no Proxmox endpoint and there is no default one")
    return endpoint


def credentials_secret_name(endpoint: ProxmoxEndpoint) -> str:
    """One Secret per endpoint in each tenant namespace (capmox's credentialsRef)."""
    return f"capmox-{endpoint.name}-credentials"


def credentials_for(endpoint: ProxmoxEndpoint) -> ProxmoxCredentials:
    root_ca = ""
    if endpoint.verify_tls and endpoint.ca_bundle:
        with open(endpoint.ca_bundle, encoding="utf-8") as handle:
            root_ca = handle.read()
    return ProxmoxCredentials(
        url=endpoint.api_url,
        token_id=endpoint.token_id,
        token_secret=endpoint.token_secret(),
        insecure=not endpoint.verify_tls,
        root_ca=root_ca,
    )


def _ranges_without(first, last, excluded) -> tuple[str, ...]:
    """[first, last] as "a-b" ranges with `excluded` (the gateway) cut out."""
    parts = [(first, last)]
    if first <= excluded <= last:
        parts = [(first, excluded - 1), (excluded + 1, last)]
    return tuple(f"{a}-{b}" if a != b else str(a) for a, b in parts if a <= b)


def node_addresses(network) -> tuple[str, ...]:
    """Addresses for capmox's IP pool: the explicit range, else the CIDR's hosts (minus the gateway)."""
    if not network.cidr or not network.gateway:
        raise SpecError(f"network {network.name!r} has no CIDR/gateway: capmox only assigns static IPs (no DHCP)")
    gateway = ipaddress.ip_address(network.gateway)
    if network.ip_range_start and network.ip_range_end:
        first, last = ipaddress.ip_address(network.ip_range_start), ipaddress.ip_address(network.ip_range_end)
    else:
        net = ipaddress.ip_network(network.cidr, strict=False)
        first, last = net.network_address + 1, net.broadcast_address - 1
    addresses = _ranges_without(first, last, gateway)
    if not addresses:
        raise SpecError(f"network {network.name!r} has no addresses left for cluster nodes")
    return addresses


def _template_for(group: NodeGroup, endpoint: ProxmoxEndpoint) -> OSTemplate:
    if group.template_id:
        return group.template
    template = (
        OSTemplate.objects.filter(active=True, cloud_init=True)
        .filter(Q(endpoint=endpoint) | Q(endpoint__isnull=True))
        .order_by("name")
        .first()
    )
    if template is None:
        raise SpecError(f"node group {group.name!r} has no template and no active cloud-init template exists")
    return template


def clone_source(template: OSTemplate) -> CloneSource:
    if template.vmid and template.node:
        return CloneSource(source_node=template.node, template_id=template.vmid)
    if template.tags:
        return CloneSource(match_tags=tuple(sorted({str(t).lower() for t in template.tags})))
    raise SpecError(f"template {template.name!r} has neither node+vmid nor tags")


def _round_up_to_8(value: int) -> int:
    return -(-value // 8) * 8


def node_group_spec(group: NodeGroup, request: ClusterRequest, endpoint: ProxmoxEndpoint) -> NodeGroupSpec:
    tenant = request.tenant
    template = _template_for(group, endpoint)
    full_clone = tenant.full_clone if template.full_clone is None else template.full_clone
    sockets, cores, memory = group.sockets, group.cores, group.memory_mib
    if group.instance_type_id:
        sockets, cores, memory = 1, group.instance_type.vcpus, group.instance_type.memory_mib
    return NodeGroupSpec(
        name=group.name,
        replicas=group.replicas,
        min_replicas=group.min_replicas,
        max_replicas=group.max_replicas,
        source=clone_source(template),
        sockets=sockets,
        cores=cores,
        memory_mib=_round_up_to_8(memory),  # capmox: memoryMiB must be a multiple of 8
        disk_gib=max(group.disk_gib, template.min_disk_gib),
        full_clone=full_clone,
        storage=tenant.storage if full_clone else "",
        pool=tenant.resource_pool,
        roles=tuple(sorted(str(r) for r in group.roles)),
    )


def _vmid_space(request: ClusterRequest, endpoint: ProxmoxEndpoint) -> tuple[int, int]:
    tenant = request.tenant
    if tenant.vmid_range_start is not None and tenant.vmid_range_end is not None:
        return tenant.vmid_range_start, tenant.vmid_range_end
    return endpoint.vmid_range_start, endpoint.vmid_range_end


def vmid_range_for(request: ClusterRequest, endpoint: ProxmoxEndpoint, *, persist: bool) -> tuple[int, int]:
    """The cluster's own vmIDRange: allocated once, kept in status_detail, never shared by live clusters."""
    stored = (request.status_detail or {}).get(VMID_BLOCK_KEY)
    if stored:
        return int(stored[0]), int(stored[1])
    if not persist:
        return _allocate(request, endpoint)
    with transaction.atomic():
        # Serialise allocations per endpoint so two clusters provisioned at once cannot pick the same block.
        ProxmoxEndpoint.objects.select_for_update().filter(pk=endpoint.pk).first()
        fresh = ClusterRequest.objects.select_for_update().get(pk=request.pk)
        stored = (fresh.status_detail or {}).get(VMID_BLOCK_KEY)
        allocated = (int(stored[0]), int(stored[1])) if stored else _allocate(request, endpoint)
        fresh.status_detail = {**(fresh.status_detail or {}), VMID_BLOCK_KEY: list(allocated)}
        fresh.save(update_fields=["status_detail"])
    request.status_detail = fresh.status_detail
    return allocated


def _allocate(request: ClusterRequest, endpoint: ProxmoxEndpoint) -> tuple[int, int]:
    block = int(_setting("CLUSTER_VMID_BLOCK", 100))
    start, end = _vmid_space(request, endpoint)
    others = ClusterRequest.objects.exclude(pk=request.pk).exclude(state__in=INACTIVE_STATES)
    taken = [
        (int(r.status_detail[VMID_BLOCK_KEY][0]), int(r.status_detail[VMID_BLOCK_KEY][1]))
        for r in others.only("status_detail")
        if isinstance(r.status_detail, dict) and r.status_detail.get(VMID_BLOCK_KEY)
    ]
    return allocate_vmid_block(start, end, taken, block)


def build_spec(request: ClusterRequest, *, persist_allocation: bool = False) -> ClusterSpec:
    endpoint = endpoint_for(request)
    network = request.network
    groups = list(request.node_groups.select_related("template", "instance_type").order_by("name"))
    first_template = _template_for(groups[0], endpoint) if groups else None
    ssh_user = (first_template.default_user if first_template else "") or "root"
    return ClusterSpec(
        name=request.name,
        namespace=request.tenant.namespace,
        tenant=request.tenant.slug,
        request_id=request.pk,
        kubernetes_version=request.kubernetes_version.version,
        control_plane_replicas=request.control_plane_replicas,
        network=NodeNetwork(
            addresses=node_addresses(network),
            prefix=ipaddress.ip_network(network.cidr, strict=False).prefixlen,
            gateway=str(network.gateway),
            dns_servers=tuple(network.dns_servers or [str(network.gateway)]),
            bridge=network.bridge,
            vlan=network.vlan,
        ),
        node_groups=tuple(node_group_spec(g, request, endpoint) for g in groups),
        credentials_secret=credentials_secret_name(endpoint),
        vmid_range=vmid_range_for(request, endpoint, persist=persist_allocation),
        datastore_name=_setting("KAMAJI_DATASTORE_NAME", "default"),
        service_type=_setting("KAMAJI_SERVICE_TYPE", "LoadBalancer"),
        pod_cidr=_setting("CLUSTER_POD_CIDR", "10.243.0.0/16"),
        service_cidr=_setting("CLUSTER_SERVICE_CIDR", "10.95.0.0/16"),
        allowed_nodes=tuple(sorted(request.tenant.allowed_nodes or [])),
        ssh_user=ssh_user,
        ssh_keys=tuple(request.ssh_key_list()),
    )
