from django.conf import settings

from .tenancy import can_approve


def portal(request):
    user = getattr(request, "user", None)
    return {
        "current_tenant": getattr(request, "tenant", None),
        "user_tenants": getattr(request, "tenants", []),
        "can_approve": bool(user and can_approve(user)),
        "poll_interval_ms": settings.PORTAL_POLL_INTERVAL_MS,
    }
