"""Background work of the subscriptions app (Django's tasks framework)."""

from datetime import date

from django.tasks import task

from subscriptions.services.renewal import renew_subscriptions


@task
def renew_due_subscriptions(on_date_iso: str) -> dict:
    """Renew or expire every subscription whose term ended before ``on_date_iso``. Enqueue
    it daily (after midnight UTC) from the scheduler of your choice."""
    renewed, expired = renew_subscriptions(on_date=date.fromisoformat(on_date_iso))
    return {"renewed": renewed, "expired": expired}
