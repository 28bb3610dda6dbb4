"""The two kinds of request the portal takes, described once for the generic views and the API."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import QuerySet

from .models import ClusterRequest, VMRequest


@dataclass(frozen=True)
class Kind:
    key: str
    model: type
    label: str
    plural: str
    url_prefix: str

    def queryset(self) -> QuerySet:
        related = ["tenant", "requested_by", "network"]
        if self.model is VMRequest:
            related += ["template", "instance_type"]
        else:
            related += ["kubernetes_version"]
        return self.model.objects.select_related(*related)

    def url_name(self, view: str) -> str:
        return f"portal:{self.key}-{view}"


KINDS: dict[str, Kind] = {
    "vm": Kind("vm", VMRequest, "VM", "VMs", "vms"),
    "cluster": Kind("cluster", ClusterRequest, "Kubernetes cluster", "Kubernetes clusters", "clusters"),
}


def kind_of(obj) -> Kind:
    return KINDS[obj.kind]
