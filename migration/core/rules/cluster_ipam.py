"""ProxmoxCluster needs real IPAM pools and DNS servers from the network map."""

from . import Rule


def check(cluster) -> list[tuple[str, str]]:
    if cluster.placeholder_ipam:
        return [("ProxmoxCluster uses placeholder ipv4Config/dnsServers (192.0.2.0/24); set 'cluster' in the "
                 "network map", "spec")]  # fmt: skip
    return []


RULE = Rule("cluster-ipam", "Critical", "ProxmoxCluster IPAM placeholder", check, scope="cluster")
