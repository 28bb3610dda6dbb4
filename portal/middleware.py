"""Request correlation ids and the current tenant."""

from __future__ import annotations

import contextvars
import re
import uuid

_request_id: contextvars.ContextVar[str] = contextvars.ContextVar("portal_request_id", default="")
_SAFE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


def current_request_id() -> str:
    return _request_id.get()


def set_request_id(value: str) -> contextvars.Token:
    """Used by Celery tasks to tag their audit events with the task id."""
    return _request_id.set(value)


class RequestIdMiddleware:
    """Gives every HTTP request an id (or keeps a well-formed X-Request-ID) for audit and logs."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get("X-Request-ID", "")
        request.request_id = incoming if _SAFE_ID.match(incoming) else uuid.uuid4().hex
        token = _request_id.set(request.request_id)
        try:
            response = self.get_response(request)
        finally:
            _request_id.reset(token)
        response["X-Request-ID"] = request.request_id
        return response


class CurrentTenantMiddleware:
    """`request.tenant`: the tenant the user is working in, chosen with the switcher and kept in the session."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.tenant = None
        request.tenants = []
        if request.user.is_authenticated:
            from .tenancy import resolve_current_tenant

            resolve_current_tenant(request)
        return self.get_response(request)
