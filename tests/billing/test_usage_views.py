"""The usage import pages: upload → preview → confirm → status page with its HTMX progress
partial; billing roles only; a partner sees only its own imports (another's is 404)."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from billing.services import run_locks
from billing.models import UsageImport, UsageImportStatus, UsageRecord
from billing.services.usage_parse import BAD_ENCODING, NEGATIVE_DURATION, UNKNOWN_TENANT
from billing.usage_views import PREVIEW_EXPIRED, SESSION_KEY
from portal.models import Role
from tests.billing.test_usage_import import csv_bytes, row
from tests.factories import UsageImportFactory

IMPORT_URL = reverse("billing:usage_import")
LIST_URL = reverse("billing:usage_import_list")


@pytest.fixture(autouse=True)
def _uploads_in_tmp(settings, tmp_path):
    settings.BASE_DIR = tmp_path


def upload(client, data, name="calls.csv"):
    return client.post(IMPORT_URL, {"file": SimpleUploadedFile(name, data, content_type="text/csv")})


def test_billing_admin_previews_confirms_and_sees_the_counts(
    partner_a, make_member, customer_of, tmp_path, django_capture_on_commit_callbacks
):
    client = make_member(partner_a, Role.BILLING_ADMIN)
    customer = customer_of(partner_a)
    data = csv_bytes(row("c1", customer.tenant_id), row("c2", customer.tenant_id, seconds="-4"), row("c3", customer.tenant_id))

    preview = upload(client, data)
    assert preview.status_code == 200
    body = preview.content.decode()
    assert 'data-testid="usage-preview"' in body
    assert 'data-testid="preview-valid">2<' in body and 'data-testid="preview-invalid">1<' in body
    assert str(NEGATIVE_DURATION % {"value": "-4"}) in body
    assert not UsageRecord.objects.exists()  # a preview writes nothing
    token = client.session[SESSION_KEY]["token"]
    assert (tmp_path / "var" / "uploads" / f"usage-{token}.csv").exists()

    with django_capture_on_commit_callbacks(execute=True):
        confirmed = client.post(IMPORT_URL, {"token": token})
    usage_import = UsageImport.objects.get()
    assert confirmed.status_code == 302
    assert confirmed["Location"] == reverse("billing:usage_import_detail", args=[usage_import.pk])
    assert (usage_import.status, usage_import.imported_rows, usage_import.partner, usage_import.created_by) == (
        UsageImportStatus.DONE, 2, partner_a, client.user,
    )
    assert not list((tmp_path / "var" / "uploads").iterdir())  # the saved file is removed

    page = client.get(confirmed["Location"]).content.decode()
    assert 'data-testid="imported-rows">2<' in page and 'data-testid="error-rows">1<' in page
    assert str(NEGATIVE_DURATION % {"value": "-4"}) in page
    assert 'hx-trigger="every 1s"' not in page  # finished: no more polling


def test_progress_partial_polls_while_the_import_runs(partner_a, make_member):
    client = make_member(partner_a, Role.BILLING_ADMIN)
    running = UsageImportFactory(partner=partner_a, status=UsageImportStatus.RUNNING, total_rows=200, processed_rows=50)
    assert run_locks.acquire(run_locks.USAGE_IMPORT, running.pk)  # as the importing process holds it
    try:
        response = client.get(reverse("billing:usage_import_detail", args=[running.pk]), headers={"HX-Request": "true"})
    finally:
        run_locks.release(run_locks.USAGE_IMPORT, running.pk)
    body = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in body  # the partial only
    assert 'hx-trigger="every 1s"' in body and 'data-progress="25"' in body


def test_an_import_whose_process_died_shows_as_failed_with_what_it_imported(partner_a, make_member):
    client = make_member(partner_a, Role.BILLING_ADMIN)
    dead = UsageImportFactory(partner=partner_a, status=UsageImportStatus.RUNNING, total_rows=200, processed_rows=50,
                              imported_rows=50)
    response = client.get(reverse("billing:usage_import_detail", args=[dead.pk]), headers={"HX-Request": "true"})
    body = response.content.decode()
    assert 'hx-trigger="every 1s"' not in body and "its process ended" in body
    dead.refresh_from_db()
    assert dead.status == UsageImportStatus.FAILED and dead.imported_rows == 50 and dead.finished_at is not None


def test_partner_upload_naming_another_partners_tenant_reports_unknown_tenant(
    partner_a, partner_b, make_member, customer_of
):
    client = make_member(partner_a, Role.GLOBAL_ADMIN)
    theirs = customer_of(partner_b)
    body = upload(client, csv_bytes(row("x", theirs.tenant_id))).content.decode()
    assert str(UNKNOWN_TENANT % {"value": str(theirs.tenant_id)}) in body
    assert 'data-testid="preview-invalid">1<' in body
    assert theirs.name not in body


def test_wrong_encoding_is_refused_at_upload(partner_a, make_member, customer_of, tmp_path):
    client = make_member(partner_a, Role.BILLING_ADMIN)
    customer = customer_of(partner_a)
    response = upload(client, csv_bytes(row("c1", customer.tenant_id, user="zoë"), encoding="latin-1"))
    assert response.status_code == 422
    assert 'data-testid="usage-file-error"' in response.content.decode()
    assert str(BAD_ENCODING % {"line": 2}).split("(")[0] in response.content.decode()
    assert SESSION_KEY not in client.session
    assert not list((tmp_path / "var" / "uploads").iterdir())


def test_confirm_without_a_matching_preview_is_refused(partner_a, make_member):
    client = make_member(partner_a, Role.BILLING_ADMIN)
    response = client.post(IMPORT_URL, {"token": "0" * 32})
    assert response.status_code == 422
    assert str(PREVIEW_EXPIRED) in response.content.decode()
    assert not UsageImport.objects.exists()


def test_helpdesk_agent_gets_403(partner_a, make_member):
    client = make_member(partner_a, Role.HELPDESK_AGENT)
    assert client.get(IMPORT_URL).status_code == 403
    assert client.get(LIST_URL).status_code == 403
    own = UsageImportFactory(partner=partner_a)
    assert client.get(reverse("billing:usage_import_detail", args=[own.pk])).status_code == 403


def test_billing_admin_sees_the_upload_page(partner_a, make_member):
    response = make_member(partner_a, Role.BILLING_ADMIN).get(IMPORT_URL)
    assert response.status_code == 200
    assert 'data-testid="usage-upload"' in response.content.decode()


def test_another_partners_import_is_not_found(partner_a, partner_b, make_member):
    theirs = UsageImportFactory(partner=partner_b)
    client = make_member(partner_a, Role.GLOBAL_ADMIN)
    url = reverse("billing:usage_import_detail", args=[theirs.pk])
    assert client.get(url).status_code == 404
    assert client.get(url, headers={"HX-Request": "true"}).status_code == 404
    assert make_member(partner_b, Role.BILLING_ADMIN).get(url).status_code == 200


def test_list_shows_only_the_partners_imports(partner_a, partner_b, make_member, django_assert_num_queries):
    mine = [UsageImportFactory(partner=partner_a, file_name=f"mine-{i}.csv") for i in range(3)]
    UsageImportFactory(partner=partner_b, file_name="theirs.csv")
    client = make_member(partner_a, Role.BILLING_ADMIN)
    client.get(LIST_URL)  # warm the session
    # session, user, membership, running imports (to mark those whose process died), count, page of
    # imports (creators joined): fixed for any number of rows.
    with django_assert_num_queries(6):
        response = client.get(LIST_URL)
    body = response.content.decode()
    assert all(item.file_name in body for item in mine)
    assert "theirs.csv" not in body


def test_staff_without_a_partner_import_as_the_operator(
    db, client, customer_of, partner_b, django_capture_on_commit_callbacks
):
    from tests.factories import UserFactory

    staff = UserFactory(is_staff=True)
    client.force_login(staff)
    customer = customer_of(partner_b)
    upload(client, csv_bytes(row("op-1", customer.tenant_id)))
    with django_capture_on_commit_callbacks(execute=True):
        client.post(IMPORT_URL, {"token": client.session[SESSION_KEY]["token"]})
    usage_import = UsageImport.objects.get()
    assert (usage_import.partner, usage_import.imported_rows) == (None, 1)
    assert "calls.csv" in client.get(LIST_URL).content.decode()


def test_admin_upload_imports_as_the_operator(db, admin_client, customer_of, partner_a, django_capture_on_commit_callbacks):
    customer = customer_of(partner_a)
    assert "Upload usage CSV" in admin_client.get(reverse("admin:billing_usageimport_changelist")).content.decode()
    url = reverse("admin:billing_usageimport_upload")
    assert admin_client.get(url).status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(url, {"file": SimpleUploadedFile("a.csv", csv_bytes(row("adm-1", customer.tenant_id)))})
    usage_import = UsageImport.objects.get()
    assert response.status_code == 302
    assert (usage_import.source, usage_import.status, usage_import.imported_rows) == ("admin", UsageImportStatus.DONE, 1)
    assert admin_client.get(response["Location"]).status_code == 200


def test_an_import_confirmed_in_italian_stores_its_errors_in_english_and_shows_them_in_the_readers_language(
    partner_a, make_member, customer_of, django_capture_on_commit_callbacks
):
    from django.utils import translation

    client = make_member(partner_a, Role.BILLING_ADMIN)
    customer = customer_of(partner_a)
    data = csv_bytes(row("c1", customer.tenant_id), row("c2", customer.tenant_id, seconds="-4"))
    client.post(IMPORT_URL, {"file": SimpleUploadedFile("calls.csv", data, content_type="text/csv")},
                HTTP_ACCEPT_LANGUAGE="it")
    token = client.session[SESSION_KEY]["token"]
    with django_capture_on_commit_callbacks(execute=True):  # the task runs inside the Italian request
        client.post(IMPORT_URL, {"token": token}, HTTP_ACCEPT_LANGUAGE="it")
    usage_import = UsageImport.objects.get()
    with translation.override("en"):
        english = str(NEGATIVE_DURATION % {"value": "-4"})
    with translation.override("it"):
        italian = str(NEGATIVE_DURATION % {"value": "-4"})
    assert english != italian
    assert [error["reason"] for error in usage_import.errors] == [english]
    url = reverse("billing:usage_import_detail", args=[usage_import.pk])
    assert italian in client.get(url, HTTP_ACCEPT_LANGUAGE="it").content.decode()
    assert english in client.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
