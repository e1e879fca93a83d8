"""The e-mail that carries an application's ZIP, worded as the platform's mail is: the plate,
the date, how many documents of which kind and their total, and what the attachment holds (the
summary sheet only when the application has one). An application of VAT e-invoices alone is
worded as it always was."""

from __future__ import annotations

from django.conf import settings
from django.core.mail import EmailMessage
from django.db.models import Count
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from piaogen.i18n import speaking_to

from ..models import Application
from ..regimes import DocumentKind
from .capitals import capitals, yuan
from .layout import KIND_ORDER


def kind_counts(app: Application) -> list[tuple[str, int]]:
    """[(document kind, count)] of the application's documents, in a fixed order."""
    rows = dict(app.invoices.values_list("document_kind").annotate(n=Count("id")).order_by())
    return [(kind, rows[kind]) for kind in KIND_ORDER if rows.get(kind)]


def mask_email(address: str) -> str:
    """zhangsan@example.com → z***@example.com: enough for the console, not for a spammer."""
    local, _at, domain = (address or "").partition("@")
    if not domain:
        return "***"
    return f"{local[:1]}***@{domain}"


def compose(app: Application, *, zip_name: str, zip_bytes: bytes, to: str = "") -> EmailMessage:
    issued = timezone.localtime(app.issued_at).date() if app.issued_at else timezone.localdate()
    counts = kind_counts(app)
    only_vat = all(kind == DocumentKind.VAT_E_INVOICE for kind, _n in counts)
    has_fiscal = any(kind == DocumentKind.FISCAL_E_BILL for kind, _n in counts)
    with speaking_to(app.user_id):
        values = {
            "plate": app.card.plate,
            "date": date_format(issued, _("Y年m月d日")),
            "count": app.invoice_count,
            "total": yuan(app.total),
            "capitals": capitals(app.total),
            "summary_no": app.summary_no or "",
            "hotline": settings.SUPPORT_HOTLINE,
            "kinds": _("、").join(
                _("%(kind)s %(n)s 张") % {"kind": DocumentKind(kind).label, "n": n} for kind, n in counts
            ),
        }
        if only_vat:
            subject = _("【票根】车牌号 %(plate)s 的通行费电子发票（%(date)s，共 %(count)s 张）") % values
            issued_line = (
                _(
                    "您为车牌号 %(plate)s 申请的通行费电子发票已于 %(date)s 开具，共 %(count)s 张，"
                    "价税合计 ¥%(total)s 元（%(capitals)s）。"
                )
                % values
            )
        else:
            subject = _("【票根】车牌号 %(plate)s 的通行费电子票据（%(date)s，共 %(count)s 张）") % values
            if has_fiscal:
                issued_line = (
                    _(
                        "您为车牌号 %(plate)s 申请的通行费电子票据已于 %(date)s 开具，共 %(count)s 张"
                        "（%(kinds)s），合计 ¥%(total)s 元（%(capitals)s）。"
                    )
                    % values
                )
            else:
                issued_line = (
                    _(
                        "您为车牌号 %(plate)s 申请的通行费电子票据已于 %(date)s 开具，共 %(count)s 张"
                        "（%(kinds)s），价税合计 ¥%(total)s 元（%(capitals)s）。"
                    )
                    % values
                )
        if only_vat and app.summary_no:
            attachment_line = (
                _(
                    "附件是这次开票的压缩包，内含每张发票的 PDF 版式文件和 XML 数据文件，"
                    "以及电子汇总单（汇总单号 %(summary_no)s），请查收。"
                )
                % values
            )
        elif app.summary_no:
            attachment_line = (
                _(
                    "附件是这次开票的压缩包，内含每张票据的 PDF 版式文件和 XML 数据文件（文件名标明票据种类），"
                    "以及电子汇总单（汇总单号 %(summary_no)s），请查收。"
                )
                % values
            )
        else:
            attachment_line = _(
                "附件是这次开票的压缩包，内含每张票据的 PDF 版式文件和 XML 数据文件，请查收。充值开票没有电子汇总单。"
            )
        if only_vat:
            why_line = _(
                "一次通行经过几家收费公路经营单位的路段，就会开出几张发票：每家经营单位各开一张，汇总单列出了每次通行对应的发票。"
            )
            verify_line = _("您可以在平台的“发票查验”页面查验发票真伪，也可以随时登录平台下载。")
        else:
            why_line = _(
                "一次通行经过几家收费公路经营单位的路段，就会开出几张票据：经营性路段开具发票，"
                "政府还贷路段开具通行费财政电子票据；汇总单列出了每次通行对应的票据。"
            )
            verify_line = _("您可以在平台的“发票查验”页面查验票据真伪，也可以随时登录平台下载。")
        lines = [_("尊敬的用户：您好！"), "", issued_line, attachment_line]
        if app.summary_no:  # (the why of several documents per trip: not for a recharge)
            lines.append(why_line)
        lines += [
            verify_line,
            "",
            _("本邮件由系统自动发送，请勿直接回复。如有疑问，请拨打客服热线 %(hotline)s。") % values,
            _("全国收费公路通行费电子发票服务平台（票根）"),
        ]
        body = "\n".join(lines)
        if settings.DEMO_MODE:
            body += "\n\n" + _("（演示环境：邮件中的发票为演示数据，并非真实发票。）")
    message = EmailMessage(subject=subject, body=body, from_email=settings.DEFAULT_FROM_EMAIL, to=[to or app.email])
    message.attach(zip_name, zip_bytes, "application/zip")
    return message
