from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PortalConfig(AppConfig):
    verbose_name = _("Partners and customers")
    name = "portal"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from django.tasks.signals import task_finished, task_started

        from portal.logs import on_task_finished, on_task_started

        task_started.connect(on_task_started, dispatch_uid="portal.logs.task_started")
        task_finished.connect(on_task_finished, dispatch_uid="portal.logs.task_finished")
