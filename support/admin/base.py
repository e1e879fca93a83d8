"""What the console's pages share: the console's stylesheet, free text shown masked (with the
link to its original for roles with the need), the link to a customer's view, edits that ask
why, bulk actions whose refusals become warnings, and pages registered through a proxy model."""

from __future__ import annotations

from contextvars import ContextVar

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.models import User
from piaogen.errors import ServiceError
from piaogen.masking import mask_text

from .. import services

CONSOLE_MEDIA = forms.Media(css={"all": ["support/console.css"]})


def _pk(value) -> int:
    if not 0 < int(value) < 2**62:
        raise Http404("out of range")
    return int(value)


# The staff member the page is being rendered for: read-only fields are rendered after the view
# returns, and their methods get no request. Set at the start of each console view that shows
# free text (``ViewerMixin``).
_viewer: ContextVar[User | None] = ContextVar("console_viewer", default=None)


def can_reveal(user: User | None = None) -> bool:
    user = user or _viewer.get()
    return bool(user is not None and user.is_staff and user.has_perm(services.PERM_REVEAL))


def masked_html(text: str, *, kind: str, pk: int | None, masked: str | None = None) -> str:
    """Free text as the console shows it: personal numbers masked, and for roles with the need a
    link to open the original (each opening is recorded)."""
    text = text or ""
    masked = mask_text(text) if masked is None else masked
    if masked == text or not pk or not can_reveal():
        return format_html('<span class="masked-text">{}</span>', masked)
    return format_html(
        '<span class="masked-text">{}</span> <a class="reveal-link" href="{}">{}</a>',
        masked,
        reverse("admin:support_reveal", args=[kind, pk]),
        _("查看原文"),
    )


class ViewerMixin:
    def changeform_view(self, request, *args, **kwargs):
        _viewer.set(request.user)
        return super().changeform_view(request, *args, **kwargs)

    def history_form_view(self, request, *args, **kwargs):
        _viewer.set(request.user)
        return super().history_form_view(request, *args, **kwargs)

    def changelist_view(self, request, *args, **kwargs):
        _viewer.set(request.user)
        return super().changelist_view(request, *args, **kwargs)


def customer_link(user: User | None) -> str:
    if user is None:
        return "—"
    label = f"{user.name or _('用户')} {user.mobile_masked}"
    return format_html('<a href="{}">{}</a>', reverse("admin:support_customer_view", args=[user.pk]), label)


class ReasonAdminForm(forms.ModelForm):
    """A console edit that asks why: the reason goes into the history row with who and when."""

    change_reason = forms.CharField(
        label=gettext_lazy("修改原因"), max_length=100, help_text=gettext_lazy("记入审计记录。")
    )

    def save(self, commit=True):
        obj = super().save(commit=False)
        obj._change_reason = self.cleaned_data["change_reason"]
        if commit:
            obj.save()
        return obj


class ReasonAdminMixin:
    """Every save from the console names a reason: the form's, or, for the columns edited on
    the list page, what was done there."""

    form = ReasonAdminForm
    list_edit_reason = gettext_lazy("在列表中修改")

    def get_changelist_form(self, request, **kwargs):
        kwargs.setdefault("form", forms.ModelForm)  # the list page edits columns only
        return super().get_changelist_form(request, **kwargs)

    def save_model(self, request, obj, form, change):
        if not getattr(obj, "_change_reason", ""):
            obj._change_reason = str(self.list_edit_reason)
        super().save_model(request, obj, form, change)


def _run(request, admin_obj, items, action) -> int:
    """Runs ``action`` on each item; refusals become warnings. Returns the successes."""
    done = 0
    for item in items:
        try:
            action(item)
        except ServiceError as exc:
            admin_obj.message_user(request, f"{item}: {exc.message}", level=messages.WARNING)
        else:
            done += 1
    return done


class PageOnlyAdmin(admin.ModelAdmin):
    """A console page registered through a proxy model, so that it lives at
    /admin/support/<model>/ and shows on the console's index for those allowed."""

    permission = ""

    def has_view_permission(self, request, obj=None):
        return request.user.is_active and request.user.is_staff and request.user.has_perm(self.permission)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def _guard(self, request):
        if not self.has_view_permission(request):
            raise PermissionDenied

    def _context(self, request, **extra):
        return {**self.admin_site.each_context(request), "opts": self.model._meta, **extra}
