"""Issue 13 defect 12: the API docs come from the portal's static files, never a CDN, and the
API tokens page links them."""

from django.contrib.staticfiles import finders
from django.test import Client
from django.urls import reverse


def test_docs_page_loads_swagger_ui_from_the_portal():
    html = Client().get(reverse("v1:openapi-view")).content.decode()
    assert "cdn" not in html.lower()
    assert "/static/ninja/swagger-ui-bundle.js" in html and "/static/ninja/swagger-ui-init.js" in html
    assert finders.find("ninja/swagger-ui-bundle.js")


def test_token_page_links_the_docs(make_member, partner_a):
    html = make_member(partner_a).get(reverse("portal:token_list")).content.decode()
    assert f'href="{reverse("v1:openapi-view")}"' in html
