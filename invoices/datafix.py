"""Data fixes staff make from the console: each needs a written reason and leaves an
``ApplicationEvent`` (who, when, why) beside the application's own history."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.validators import MaxLengthValidator, validate_email
from django.db import transaction
from django.utils.translation import gettext as _

from accounts.models import User
from cards.models import InvoiceTitle
from piaogen.errors import ServiceError
from piaogen.queueing import enqueue_on_commit

from .models import Application, ApplicationEvent


def _reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise ServiceError("invalid", _("请填写操作原因。"), errors={"reason": [_("必填。")]})
    return reason[:300]


def application_correct_title(*, application_id: int, title_id: int, actor: User, reason: str) -> Application:
    """Before issuing: the application takes another of its user's titles (a typo the caller
    noticed in time). Issued invoices are never edited; after issuing the way is a title change."""
    reason = _reason(reason)
    with transaction.atomic():
        app = Application.objects.select_for_update().get(pk=application_id)
        if app.status not in (Application.Status.SUBMITTED, Application.Status.FAILED):
            raise ServiceError("invalid", _("申请已开始开票或已开票，不能再改抬头；已开票的请让用户申请换票。"))
        title = InvoiceTitle.objects.filter(pk=title_id, user_id=app.user_id, deleted_at__isnull=True).first()
        if title is None:
            raise ServiceError("invalid", _("只能改为该用户自己的发票抬头。"), errors={"title_id": [_("抬头不存在。")]})
        if title.pk == app.title_id:
            raise ServiceError(
                "same_title",
                _("新抬头与申请当前的抬头相同，无需更正。"),
                errors={"title_id": [_("请选择另一个抬头。")]},
            )
        before = {"title_id": app.title_id}
        app.title = title
        app.save(update_fields=["title"])
        ApplicationEvent.objects.create(
            application=app,
            kind="title_corrected",
            actor=actor,
            reason=reason,
            detail={**before, "title_id_after": title.pk, "name_after": title.name},
        )
    return app


def application_resend(*, application_id: int, actor: User, reason: str, email: str = "") -> Application:
    """Sends an issued application's ZIP again, to its address or to a corrected one."""
    reason = _reason(reason)
    email = (email or "").strip()
    if email:
        try:
            validate_email(email)
            MaxLengthValidator(254)(email)  # what the column stores (EmailField)
        except ValidationError:
            raise ServiceError("invalid", _("邮箱地址格式不正确。"), errors={"email": [_("格式不正确。")]}) from None
    with transaction.atomic():
        app = Application.objects.select_for_update().get(pk=application_id)
        if app.status != Application.Status.ISSUED:
            raise ServiceError("invalid", _("只有已开票的申请可以重发邮件。"))
        if not (email or app.email):
            raise ServiceError(
                "invalid", _("该申请没有收票邮箱，请填写要发送到的邮箱。"), errors={"email": [_("必填。")]}
            )
        fields = ["emailed_at"]
        if email:
            app.email = email
            fields.append("email")
        app.emailed_at = None
        app.save(update_fields=fields)
        ApplicationEvent.objects.create(
            application=app, kind="resend_requested", actor=actor, reason=reason, detail={"changed_email": bool(email)}
        )
        enqueue_on_commit("invoices.tasks.deliver_application", app.pk, what=f"application {app.pk}: delivery")
    return app
