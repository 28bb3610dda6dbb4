from django.apps import AppConfig


class PortalConfig(AppConfig):
    verbose_name = "Portal"
    name = "portal"
    default_auto_field = "django.db.models.BigAutoField"
