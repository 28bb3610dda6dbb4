"""Demo data: tenants, people, networks, quotas, the fakepve endpoint and its templates, a few requests.

Idempotent: running it twice leaves one copy of everything. Passwords are printed, never used outside the demo.
"""

from __future__ import annotations

from django.contrib.auth.models import Permission, User
from django.core.management.base import BaseCommand
from django.db import transaction

from portal import services
from portal.catalog import seed_catalog
from portal.models import (
    AutoApprovalRule,
    InstanceType,
    Membership,
    OSTemplate,
    ProxmoxEndpoint,
    Quota,
    Role,
    Tenant,
    TenantNetwork,
    VMRequest,
)

DEMO_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIL05fSaM9b80DeFRzylc9C8jONRwie+bSyXLrEwo+iRt demo@portal"
PEOPLE = [
    # username, password, staff, [(tenant, role)]
    ("admin", "admin", True, []),
    ("alice", "alice", False, [("acme", Role.ADMIN), ("acmedev", Role.USE)]),
    ("bob", "bob", False, [("acme", Role.USE)]),
    ("victor", "victor", False, [("acme", Role.VIEW)]),
    ("gina", "gina", False, [("globex", Role.ADMIN)]),
]


class Command(BaseCommand):
    help = "Create the demo tenants, users, endpoint, templates and a few requests."

    def add_arguments(self, parser):
        parser.add_argument("--pve-url", default="https://127.0.0.2:8006")
        parser.add_argument("--pve-ca", default="var/fakepve-ca.crt")

    @transaction.atomic
    def handle(self, *args, **options):
        seed_catalog()
        endpoint, _ = ProxmoxEndpoint.objects.update_or_create(
            name="demo",
            defaults={
                "api_url": options["pve_url"],
                "token_id": "root@pam!portal",
                "secret_env": "PORTAL_DEMO_PVE_SECRET",
                "verify_tls": True,
                "ca_bundle": options["pve_ca"],
                "is_default": True,
                "vmid_range_start": 1000,
                "vmid_range_end": 1999,
            },
        )
        for name, vmid, node, family, user, cloud_init, min_disk in [
            ("ubuntu-24.04", 9000, "pve1", "ubuntu", "ubuntu", True, 10),
            ("debian-12", 9001, "pve1", "debian", "debian", True, 10),
            ("talos", 9002, "pve2", "talos", "", False, 10),
        ]:
            OSTemplate.objects.update_or_create(
                endpoint=endpoint,
                vmid=vmid,
                defaults={
                    "name": name,
                    "node": node,
                    "os_family": family,
                    "default_user": user,
                    "cloud_init": cloud_init,
                    "min_disk_gib": min_disk,
                    "tags": [family],
                },
            )

        acme = self._tenant(
            "acme", "ACME Corp", endpoint, quota={"vcpus": 32, "memory_gib": 128, "disk_gib": 1000, "vms": 20}
        )
        acmedev = self._tenant(
            "acmedev", "ACME development", endpoint, parent=acme, quota={"vcpus": 8, "memory_gib": 32}
        )
        globex = self._tenant(
            "globex", "Globex", endpoint, quota={"vcpus": 16, "memory_gib": 64, "disk_gib": 500, "vms": 10}
        )
        for tenant, vlan, third in [(acme, 100, 10), (acmedev, 101, 11), (globex, 200, 20)]:
            TenantNetwork.objects.update_or_create(
                tenant=tenant,
                name="default",
                defaults={
                    "bridge": "vmbr0",
                    "vlan": vlan,
                    "cidr": f"10.{third}.0.0/24",
                    "gateway": f"10.{third}.0.1",
                    "ip_range_start": f"10.{third}.0.100",
                    "ip_range_end": f"10.{third}.0.199",
                    "dns_servers": ["1.1.1.1", "9.9.9.9"],
                },
            )
        TenantNetwork.objects.update_or_create(tenant=acme, name="dmz", defaults={"bridge": "vmbr1", "vlan": 300})
        AutoApprovalRule.objects.update_or_create(
            tenant=acmedev, name="small-dev-vms", defaults={"kind": "vm", "max_vcpus": 2, "max_memory_gib": 4}
        )

        approve_perms = Permission.objects.filter(codename__in=["approve_vmrequest", "approve_clusterrequest"])
        tenants = {t.slug: t for t in (acme, acmedev, globex)}
        for username, password, staff, memberships in PEOPLE:
            user, _ = User.objects.get_or_create(username=username, defaults={"email": f"{username}@example.com"})
            user.is_staff = user.is_superuser = staff
            user.set_password(password)
            user.save()
            if staff:
                user.user_permissions.add(*approve_perms)
            for slug, role in memberships:
                Membership.objects.update_or_create(user=user, tenant=tenants[slug], defaults={"role": role})

        if not VMRequest.objects.exists():
            self._sample_requests(acme, globex)
        self.stdout.write(self.style.SUCCESS("Demo data ready. Logins (user / password):"))
        for username, password, _staff, memberships in PEOPLE:
            where = ", ".join(f"{slug}:{role}" for slug, role in memberships) or "platform admin (approves)"
            self.stdout.write(f"  {username:<7} / {password:<7} {where}")

    def _tenant(self, slug, name, endpoint, parent=None, quota=None):
        tenant, _ = Tenant.objects.update_or_create(
            slug=slug,
            defaults={
                "name": name,
                "parent": parent,
                "endpoint": endpoint,
                "allowed_nodes": ["pve1", "pve2"],
                "resource_pool": "portal",
                "storage": "ceph-vm",
            },
        )
        Quota.objects.update_or_create(tenant=tenant, defaults=quota or {})
        return tenant

    def _sample_requests(self, acme, globex):
        bob = User.objects.get(username="bob")
        gina = User.objects.get(username="gina")
        ubuntu = OSTemplate.objects.get(name="ubuntu-24.04")
        medium = InstanceType.objects.get(name="u1.medium")
        for tenant, user, name in [(acme, bob, "web-1"), (globex, gina, "db-1")]:
            vm = VMRequest(
                tenant=tenant,
                name=name,
                template=ubuntu,
                instance_type=medium,
                sockets=1,
                cores=medium.vcpus,
                memory_mib=medium.memory_mib,
                disk_gib=20,
                network=tenant.networks.get(name="default"),
                ssh_keys=DEMO_KEY,
            )
            services.submit_vm(vm, actor=user)
