"""Which tenants a user works in and what they may do there."""

from __future__ import annotations

from django.http import Http404
from django.shortcuts import get_object_or_404

from .models import ROLE_RANK, Membership, Role, Tenant

SESSION_KEY = "current_tenant"


def user_tenants(user):
    return Tenant.objects.for_user(user).order_by("slug")


def resolve_current_tenant(request) -> None:
    tenants = list(user_tenants(request.user).only("pk", "slug", "name"))
    request.tenants = tenants
    wanted = request.session.get(SESSION_KEY)
    by_slug = {t.slug: t for t in tenants}
    request.tenant = by_slug.get(wanted) or (tenants[0] if tenants else None)


def role_in(user, tenant: Tenant) -> str | None:
    """The user's role in the tenant; staff act as admins everywhere."""
    if user.is_staff:
        return Role.ADMIN
    membership = Membership.objects.filter(user=user, tenant=tenant).only("role").first()
    return membership.role if membership else None


def has_role(user, tenant: Tenant, minimum: str) -> bool:
    role = role_in(user, tenant)
    return role is not None and ROLE_RANK[role] >= ROLE_RANK[minimum]


def tenant_for_user_or_404(user, slug: str, minimum: str = Role.VIEW) -> Tenant:
    tenant = get_object_or_404(Tenant.objects.for_user(user), slug=slug)
    if not has_role(user, tenant, minimum):
        raise Http404("No such tenant.")
    return tenant


def can_approve(user) -> bool:
    return (
        user.is_authenticated
        and user.is_staff
        and (user.has_perm("portal.approve_vmrequest") or user.has_perm("portal.approve_clusterrequest"))
    )
