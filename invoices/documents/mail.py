"""The e-mail that carries an application's ZIP, worded as the platform's mail is: the plate,
the date, how many invoices and their total, and what the attachment holds."""

from __future__ import annotations

from django.conf import settings
from django.core.mail import EmailMessage
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from piaogen.i18n import speaking_to

from ..models import Application
from .capitals import capitals, yuan


def mask_email(address: str) -> str:
    """zhangsan@example.com → z***@example.com: enough for the console, not for a spammer."""
    local, _at, domain = (address or "").partition("@")
    if not domain:
        return "***"
    return f"{local[:1]}***@{domain}"


def compose(app: Application, *, zip_name: str, zip_bytes: bytes, to: str = "") -> EmailMessage:
    issued = timezone.localtime(app.issued_at).date() if app.issued_at else timezone.localdate()
    with speaking_to(app.user_id):
        values = {
            "plate": app.card.plate,
            "date": date_format(issued, _("Y年m月d日")),
            "count": app.invoice_count,
            "total": yuan(app.total),
            "capitals": capitals(app.total),
            "summary_no": app.summary_no or "",
            "hotline": settings.SUPPORT_HOTLINE,
        }
        subject = _("【票根】车牌号 %(plate)s 的通行费电子发票（%(date)s，共 %(count)s 张）") % values
        body = "\n".join(
            [
                _("尊敬的用户：您好！"),
                "",
                _(
                    "您为车牌号 %(plate)s 申请的通行费电子发票已于 %(date)s 开具，共 %(count)s 张，"
                    "价税合计 ¥%(total)s 元（%(capitals)s）。"
                )
                % values,
                _(
                    "附件是这次开票的压缩包，内含每张发票的 PDF 版式文件和 XML 数据文件，"
                    "以及电子汇总单（汇总单号 %(summary_no)s），请查收。"
                )
                % values,
                _(
                    "一次通行经过几家收费公路经营单位的路段，就会开出几张发票：每家经营单位各开一张，汇总单列出了每次通行对应的发票。"
                ),
                _("您可以在平台的“发票查验”页面查验发票真伪，也可以随时登录平台下载。"),
                "",
                _("本邮件由系统自动发送，请勿直接回复。如有疑问，请拨打客服热线 %(hotline)s。") % values,
                _("全国收费公路通行费电子发票服务平台（票根）"),
            ]
        )
        if settings.DEMO_MODE:
            body += "\n\n" + _("（演示环境：邮件中的发票为演示数据，并非真实发票。）")
    message = EmailMessage(subject=subject, body=body, from_email=settings.DEFAULT_FROM_EMAIL, to=[to or app.email])
    message.attach(zip_name, zip_bytes, "application/zip")
    return message
