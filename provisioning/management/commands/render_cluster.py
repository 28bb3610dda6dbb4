"""`manage.py render_cluster <request>`: print the Cluster API manifests of a cluster request (no secrets)."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from portal.models import ClusterRequest
from provisioning.capi.from_request import build_spec
from provisioning.capi.render import render_manifests_yaml
from provisioning.capi.schema_checks import SchemaViolation
from provisioning.capi.spec import SpecError


class Command(BaseCommand):
    help = "Print the rendered Cluster API objects of a cluster request (id or tenant/name) as YAML."

    def add_arguments(self, parser):
        parser.add_argument("request", help="ClusterRequest id, or <tenant slug>/<cluster name>")

    def handle(self, *args, **options):
        request = self._find(options["request"])
        try:
            # Read-only: a vmIDRange not allocated yet is computed but not stored.
            spec = build_spec(request, persist_allocation=False)
            self.stdout.write(render_manifests_yaml(spec), ending="")
        except (SpecError, SchemaViolation) as exc:
            raise CommandError(f"cannot render {request.tenant.slug}/{request.name}: {exc}") from exc

    @staticmethod
    def _find(ref: str) -> ClusterRequest:
        queryset = ClusterRequest.objects.select_related("tenant")
        if ref.isdigit():
            found = queryset.filter(pk=int(ref)).first()
        elif "/" in ref:
            tenant, name = ref.split("/", 1)
            found = queryset.filter(tenant__slug=tenant, name=name).order_by("-created_at").first()
        else:
            raise CommandError("give a request id or <tenant>/<name>")
        if found is None:
            raise CommandError(f"no cluster request {ref!r}")
        return found
