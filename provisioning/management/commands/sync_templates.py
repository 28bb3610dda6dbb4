"""`manage.py sync_templates [--endpoint NAME]`: record Proxmox VM templates in the catalog, mark vanished ones."""

from django.core.management.base import BaseCommand, CommandError

from portal.models import ProxmoxEndpoint
from provisioning.proxmox.errors import ProxmoxError
from provisioning.sync import sync_endpoint_templates


class Command(BaseCommand):
    help = "Read /cluster/resources?type=vm of each enabled endpoint and update the OS template catalog."

    def add_arguments(self, parser):
        parser.add_argument("--endpoint", help="only this endpoint (by name)")

    def handle(self, *args, **options):
        endpoints = ProxmoxEndpoint.objects.filter(enabled=True)
        if options["endpoint"]:
            endpoints = endpoints.filter(name=options["endpoint"])
            if not endpoints.exists():
                raise CommandError(f"no enabled endpoint named {options['endpoint']!r}")
        failed = False
        for endpoint in endpoints:
            try:
                result = sync_endpoint_templates(endpoint)
            except ProxmoxError as exc:
                failed = True
                self.stderr.write(f"{endpoint.name}: {exc.message_user} ({exc.message_admin})")
                continue
            self.stdout.write(
                f"{endpoint.name}: {result['created']} new, {result['updated']} updated, {result['vanished']} vanished"
            )
        if failed:
            raise CommandError("some endpoints could not be read")
