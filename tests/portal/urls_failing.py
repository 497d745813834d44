"""A URLconf for tests of what the portal does when a view fails or logs: the portal's own
URLs and error handlers, plus two views that exist only here."""

import logging

from django.http import HttpResponse
from django.tasks import task
from django.urls import path

from config.urls import handler403, handler404, handler500, urlpatterns as portal_urlpatterns  # noqa: F401

logger = logging.getLogger("tests.portal")


def boom(request):
    raise RuntimeError("a bug in a view")


@task
def noted_task(text: str) -> str:
    logger.info("task says %s", text)
    return text


def chatty(request):
    logger.info("first line of the view")
    noted_task.enqueue("from the view")
    logger.warning("second line of the view")
    return HttpResponse("ok")


urlpatterns = [path("boom/", boom), path("chatty/", chatty), *portal_urlpatterns]
