from django import template

register = template.Library()


@register.inclusion_tag("provisioning/_vm_pipeline_body.html", takes_context=True)
def vm_pipeline(context, vm):
    from provisioning.views import pipeline_context

    request = context.get("request")
    return pipeline_context(vm, getattr(request, "user", None))


@register.filter
def duration(value) -> str:
    """A timedelta as '1.2 s' / '3 min 4 s'."""
    if value is None:
        return ""
    seconds = value.total_seconds()
    if seconds < 60:
        return f"{seconds:.1f} s"
    return f"{int(seconds // 60)} min {int(seconds % 60)} s"


@register.filter
def uptime(seconds) -> str:
    if not seconds:
        return "—"
    seconds = int(seconds)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    return (f"{days} d " if days else "") + f"{hours} h {minutes} min"


@register.filter
def percent(value) -> str:
    return "—" if value is None else f"{float(value) * 100:.0f} %"


@register.filter
def gib(value) -> str:
    return "—" if not value else f"{int(value) / 1024**3:.1f} GiB"
