"""capmox v1alpha2 implements the CAPI v1beta2 contract."""

from . import Rule


def check(cluster) -> list[tuple[str, str]]:
    old = sorted({doc.api_version for doc in cluster.docs if doc.api_version.endswith("/v1beta1")})
    if old:
        return [(f"CAPI objects use {', '.join(old)}; capmox v1alpha2 expects CAPI v1beta2 "
                 "(upgrade with clusterctl)", "apiVersion")]  # fmt: skip
    return []


RULE = Rule("capi-contract", "Information", "CAPI contract version", check, scope="cluster")
