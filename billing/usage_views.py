"""Usage import pages (SPEC §8): upload → preview → confirm, the import's status page with
its progress bar, and the list of recent imports. For billing roles (SPEC §2) and for the
operator's staff without a partner (whose imports may name any customer)."""

from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.decorators import method_decorator
from django.views.decorators.http import require_GET, require_http_methods
from django.views.generic import ListView

from billing.forms import UsageConfirmForm, UsageUploadForm
from billing.models import UsageImportStatus
from billing.services.usage_import import reap_dead_imports, usage_import_create
from billing.services.usage_parse import UsageFileError, file_chunks, usage_check_encoding, usage_error_text
from billing.services.usage_preview import usage_preview
from billing.tasks import import_usage_upload, save_upload, upload_path
from billing.usage_selectors import usage_import_error_rows, usage_imports_for
from portal import permissions
from portal.errors import PREVIEW_EXPIRED
from portal.htmx import REFUSED
from portal.views import htmx_template, require_permission

SESSION_KEY = "billing_usage_upload"


def billing_access_required(view, action=permissions.BILLING):
    """Logged in; a partner's member needs the role for ``action`` (else 403 with the reason);
    the operator's staff without a partner pass; anyone else goes to the no-access page."""

    @wraps(view)
    @login_required
    def wrapped(request, *args, **kwargs):
        if request.partner is None:
            if not request.user.is_staff:
                return redirect("portal:no_membership")
        else:
            require_permission(request, action)
        return view(request, *args, **kwargs)

    return wrapped


def usage_import_required(view):
    """Importing usage is a write billed to the overage holder: transacting partners only."""
    return billing_access_required(view, action=permissions.USAGE_IMPORT)


def _scoped_imports(request):
    imports = usage_imports_for(request.user, request.partner)
    reap_dead_imports(imports)  # an import whose process died reads as failed, not running
    return imports


def _discard_pending(request):
    pending = request.session.pop(SESSION_KEY, None)
    if pending:
        upload_path(pending["token"]).unlink(missing_ok=True)


@require_http_methods(["GET", "POST"])
@usage_import_required
def usage_import(request):
    """Step 1 saves the file and previews its first rows (nothing imported); step 2 queues
    the import of the file previewed and shows its status page."""
    template = "billing/usage_import.html"
    if request.method == "POST" and "token" in request.POST:
        confirm = UsageConfirmForm(request.POST)
        pending = request.session.get(SESSION_KEY)
        if not confirm.is_valid() or not pending or pending["token"] != confirm.cleaned_data["token"]:
            messages.error(request, PREVIEW_EXPIRED)
            return render(request, template, {"form": UsageUploadForm()}, status=REFUSED)
        del request.session[SESSION_KEY]
        usage_import = usage_import_create(
            file_name=pending["name"],
            partner=request.partner,
            acting_user=request.user,
            total_rows=max(pending["lines"] - 1, 0),
        )
        transaction.on_commit(lambda: import_usage_upload.enqueue(usage_import.pk, pending["token"]))
        return redirect("billing:usage_import_detail", usage_import_id=usage_import.pk)

    if request.method == "POST":
        form = UsageUploadForm(request.POST, request.FILES)
        if not form.is_valid():
            return render(request, template, {"form": form}, status=REFUSED)
        _discard_pending(request)
        upload = form.cleaned_data["file"]
        token = save_upload(upload)
        path = upload_path(token)
        try:
            with path.open("rb") as fileobj:
                lines = usage_check_encoding(fileobj_chunks=file_chunks(fileobj))
            with path.open("rb") as fileobj:
                preview = usage_preview(fileobj_chunks=file_chunks(fileobj), partner=request.partner)
        except UsageFileError as exc:
            preview, lines = None, 0
            file_error = exc.reason
        else:
            file_error = preview.file_error
        context = {"form": UsageUploadForm(), "file_name": upload.name, "preview": preview, "file_error": file_error}
        if file_error:
            path.unlink(missing_ok=True)
            return render(request, template, context, status=REFUSED)
        request.session[SESSION_KEY] = {"token": token, "name": upload.name, "lines": lines}
        context["confirm_form"] = UsageConfirmForm(initial={"token": token})
        context["line_count"] = max(lines - 1, 0)
        return render(request, template, context)

    return render(request, template, {"form": UsageUploadForm()})


@require_GET
@billing_access_required
def usage_import_detail(request, usage_import_id):
    """An import's status: a progress bar the page polls every second while it runs (the
    ``progress`` partial), then the counts and the line-numbered errors."""
    usage_import = get_object_or_404(_scoped_imports(request).select_related("created_by"), pk=usage_import_id)
    running = usage_import.status in (UsageImportStatus.PENDING, UsageImportStatus.RUNNING)
    total = max(usage_import.total_rows, usage_import.processed_rows)
    error_rows = usage_import_error_rows(usage_import)
    context = {
        "usage_import": usage_import,
        "running": running,
        "percent": 100 if not running else (min(100, usage_import.processed_rows * 100 // total) if total else 0),
        "error_rows": error_rows,
        "errors_hidden": max(error_rows - len(usage_import.errors or []), 0),
        # Stored in English; read in the reader's language.
        "errors": [{**error, "reason": usage_error_text(error.get("reason") or "")} for error in usage_import.errors or []],
    }
    return render(request, htmx_template(request, "billing/usage_import_detail.html", "progress"), context)


@method_decorator(billing_access_required, name="dispatch")
class UsageImportListView(ListView):
    """Recent imports of the partner (the operator's staff: their own operator imports)."""

    template_name = "billing/usage_import_list.html"
    context_object_name = "imports"
    paginate_by = 25

    def get_queryset(self):
        return _scoped_imports(self.request).select_related("created_by").order_by("-created_at", "-pk")
