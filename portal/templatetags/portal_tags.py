from django import template
from django.template.loader import get_template
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from portal.states import State, colour, is_final

register = template.Library()


@register.simple_tag
def state_badge(state: str):
    label = State(state).label if state in State.values else state
    pulse = "" if is_final(state) or state == State.PENDING_APPROVAL else mark_safe('<span class="pulse"></span>')  # noqa: S308
    return format_html('<span class="badge badge-{}" data-state="{}">{}{}</span>', colour(state), state, pulse, label)


@register.simple_tag(takes_context=True)
def include_if_exists(context, name: str):
    """Include a template that another app may provide; nothing when it does not exist."""
    try:
        tmpl = get_template(name)
    except template.TemplateDoesNotExist:
        return ""
    return tmpl.render(context.flatten(), context.get("request"))


@register.simple_tag(takes_context=True)
def query(context, **kwargs):
    """The current query string with some parameters replaced (for sort/filter/page links)."""
    params = context["request"].GET.copy()
    for key, value in kwargs.items():
        if value in (None, ""):
            params.pop(key, None)
        else:
            params[key] = value
    if "page" not in kwargs:
        params.pop("page", None)
    encoded = params.urlencode()
    return f"?{encoded}" if encoded else "?"


@register.filter
def mib(value) -> str:
    try:
        value = int(value)
    except (TypeError, ValueError):
        return ""
    return f"{value // 1024} GiB" if value % 1024 == 0 else f"{value / 1024:.1f} GiB"


@register.filter
def num(value) -> str:
    value = float(value)
    return str(int(value)) if value.is_integer() else f"{value:.1f}"
