"""One store for the notices of unbindings: the message centre. ``cards.Binding.notice_seen_at``
(the one-time notice of the next page) becomes ``Notification.shown_at`` of the binding's message;
``cards.0011_binding_notice_seen_at_removed`` then drops the old field.

Forwards: a message whose binding's notice was seen is marked shown then; an ending by the issuer
or by staff that the user was not told yet and has no message (ended before the message centre)
gets one, unread and not shown, composed as the message centre composes it. Backwards: each
binding's notice is seen when its message was shown; active endings and endings without a
message count as seen when they ended.
"""

from django.conf import settings
from django.db import migrations, models
from django.db.models import F, OuterRef, Subquery
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from piaogen.masking import mask_text

TOLD = ("passive", "staff")  # Binding.EndKind: the endings the user is told about


def _clip(text: str, limit: int) -> str:
    text = " ".join(mask_text(str(text or "")).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _issuer_phrase(issuer) -> str:
    province = _(issuer.province) if issuer.province else ""
    if issuer.hotline:
        hotline = _("%(hotline)s（演示）") % {"hotline": issuer.hotline} if issuer.is_demo else issuer.hotline
        return _("%(province)s的发行方 %(name)s（客服热线 %(hotline)s）") % {
            "province": province,
            "name": issuer.name,
            "hotline": hotline,
        }
    return _("%(province)s的发行方 %(name)s") % {"province": province, "name": issuer.name}


def _message(binding) -> tuple[str, str, str]:
    """Title, body and link of an unbinding's message (``support.notifications.on_bindings_ended``)."""
    card = binding.card
    body = _("您的ETC卡 %(plate)s（卡号尾号%(tail)s）已解绑：%(reason)s。") % {
        "plate": card.plate,
        "tail": card.card_no[-4:],
        "reason": _(binding.end_reason) if binding.end_reason else "",
    }
    if binding.end_kind == "passive":
        body += _("如需继续开票，请重新绑定；如有疑问请联系%(issuer)s。") % {"issuer": _issuer_phrase(card.issuer)}
        link = reverse("cards:bind")
    else:
        body += _("如有疑问请拨打票根客服热线 %(hotline)s。") % {"hotline": settings.SUPPORT_HOTLINE}
        link = reverse("cards:list")
    return _("ETC卡 %(plate)s 已解绑") % {"plate": card.plate}, body, link


def notices_to_messages(apps, schema_editor):
    Binding = apps.get_model("cards", "Binding")
    Notification = apps.get_model("support", "Notification")
    seen_at = Binding.objects.filter(pk=OuterRef("binding_id")).values("notice_seen_at")[:1]
    Notification.objects.filter(kind="binding_ended", binding__notice_seen_at__isnull=False).update(
        shown_at=Subquery(seen_at)
    )
    told = Notification.objects.filter(kind="binding_ended").values("binding_id")
    untold = (
        Binding.objects.filter(ended_at__isnull=False, end_kind__in=TOLD, notice_seen_at__isnull=True)
        .exclude(pk__in=told)
        .select_related("card", "card__issuer", "user")
        .order_by("pk")
    )
    rows = []
    for binding in untold.iterator(chunk_size=500):
        language = binding.user.language or settings.LANGUAGE_CODE
        with translation.override(language if language in dict(settings.LANGUAGES) else settings.LANGUAGE_CODE):
            title, body, link = _message(binding)
        rows.append(
            Notification(
                user_id=binding.user_id,
                kind="binding_ended",
                title=_clip(title, 100),
                body=_clip(body, 500),
                link=link[:200],
                binding_id=binding.pk,
                created_at=binding.ended_at or timezone.now(),
            )
        )
    Notification.objects.bulk_create(rows, batch_size=500, ignore_conflicts=True)


def messages_to_notices(apps, schema_editor):
    Binding = apps.get_model("cards", "Binding")
    Notification = apps.get_model("support", "Notification")
    ended = Binding.objects.filter(ended_at__isnull=False)
    ended.update(notice_seen_at=F("ended_at"))
    # An unbinding's notice is seen when its message was shown (none yet: still to be told).
    messages = Notification.objects.filter(kind="binding_ended")
    shown_at = messages.filter(binding_id=OuterRef("pk")).values("shown_at")[:1]
    ended.filter(end_kind__in=TOLD, pk__in=messages.values("binding_id")).update(notice_seen_at=Subquery(shown_at))


class Migration(migrations.Migration):
    dependencies = [
        ("support", "0010_transit_keys"),
        ("cards", "0009_bulk_binding"),
    ]

    operations = [
        migrations.AddField(
            model_name="notification",
            name="shown_at",
            field=models.DateTimeField(blank=True, null=True, verbose_name="已提示时间"),
        ),
        migrations.AddIndex(
            model_name="notification",
            index=models.Index(
                condition=models.Q(("kind", "binding_ended"), ("shown_at__isnull", True)),
                fields=["user"],
                name="notification_notice_due",
            ),
        ),
        migrations.RunPython(notices_to_messages, messages_to_notices),
    ]
