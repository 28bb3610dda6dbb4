from django.urls import path

from . import views

app_name = "provisioning"
urlpatterns = [
    path("vms/<int:pk>/pipeline/", views.vm_pipeline, name="vm-pipeline"),
    path("vms/<int:pk>/steps/<str:name>/log/", views.step_log, name="step-log"),
    path("vms/<int:pk>/actions/<int:action_id>/log/", views.action_log, name="action-log"),
    path("vms/<int:pk>/retry/", views.retry, name="retry"),
    path("vms/<int:pk>/cleanup/", views.cleanup, name="cleanup"),
    path("unmanaged/", views.unmanaged, name="unmanaged"),
]
