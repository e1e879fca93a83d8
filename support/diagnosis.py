"""Self-service diagnosis on a user's own data, at the point of failure.

Each function answers one question a caller asks the hotline, from what the platform
recorded: why a binding failed and whom to call, when a trip appears, why a trip gives N
invoices, why an application failed, whether an invoice is taxable and deductible. They
read only the user's own rows; anything else is ``Http404``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from django.db.models import Prefetch
from django.http import Http404
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.models import User
from cards.models import Binding, BindingAttempt, Issuer, IssuerNetworkCode
from invoices import tax as tax_rules
from invoices.models import Application, Invoice, InvoiceLine, Transit, TransitSegment
from invoices.selectors import by_transit_ids, invoice_month, transit_availability, trip_views

# What to do after each failed outcome of a binding attempt.
BINDING_ADVICE = {
    BindingAttempt.Outcome.INVALID: gettext_lazy("输入的卡号、证件号码或手机号格式有误，请对照ETC卡和证件重新填写。"),
    BindingAttempt.Outcome.CARD_NOT_FOUND: gettext_lazy(
        "票根没有这张卡的登记信息。请核对卡号（卡片正面的20位数字）；新办的卡要等发行方上传信息后才能绑定。仍不行请联系发行方。"
    ),
    BindingAttempt.Outcome.CARD_CANCELLED: gettext_lazy(
        "这张卡已在发行方注销，不能绑定。换了新卡请绑定新卡，有疑问请联系发行方。"
    ),
    BindingAttempt.Outcome.ID_MISMATCH: gettext_lazy(
        "您填写的证件信息与发行方登记的不一致。请先核对证件类型和号码；无误的话请联系发行方核实或更新预留信息，然后重新绑卡。"
    ),
    BindingAttempt.Outcome.MOBILE_MISMATCH: gettext_lazy(
        "您填写的手机号与办卡时在发行方预留的不一致。请联系发行方核实或更新预留手机号，然后重新绑卡。"
    ),
    BindingAttempt.Outcome.HOLDER_NAME_MISMATCH: gettext_lazy(
        "您填写的开户人名称与发行方登记的不一致。个人卡填写办卡人姓名，单位卡填写单位全称（含括号里的地名）；"
        "无误的话请联系发行方核实登记的名称。"
    ),
    BindingAttempt.Outcome.ALREADY_BOUND: gettext_lazy(
        "这张卡已绑定在另一个票根账户上。请用那个账户解绑；无法登录原账户的，可请发行方更新预留信息，卡会自动解绑。"
    ),
    BindingAttempt.Outcome.NOT_ENTERPRISE_CONTACT: gettext_lazy(
        "这是单位卡，只能由单位账户绑定，且账户手机号须是发行方登记的单位联系人手机号。"
    ),
    BindingAttempt.Outcome.TOO_MANY_ATTEMPTS: gettext_lazy("今天的失败次数已达上限，为保护持卡人信息请明天再试。"),
    BindingAttempt.Outcome.CODE_FAILED: gettext_lazy(
        "短信验证码没有通过验证。请重新绑卡获取新的验证码，验证码发送到发行方预留的手机号。"
    ),
    BindingAttempt.Outcome.CARD_CHANGED: gettext_lazy("验证期间发行方更新了这张卡的信息，请重新绑卡。"),
}
CALL_ISSUER = {
    BindingAttempt.Outcome.CARD_NOT_FOUND,
    BindingAttempt.Outcome.CARD_CANCELLED,
    BindingAttempt.Outcome.ID_MISMATCH,
    BindingAttempt.Outcome.MOBILE_MISMATCH,
    BindingAttempt.Outcome.HOLDER_NAME_MISMATCH,
    BindingAttempt.Outcome.ALREADY_BOUND,
    BindingAttempt.Outcome.NOT_ENTERPRISE_CONTACT,
}
NOT_FAILURES = (BindingAttempt.Outcome.PENDING, BindingAttempt.Outcome.BOUND)


@dataclass
class IssuerContact:
    name: str
    province: str
    hotline: str  # Issuer.hotline_label: marked （演示） for demo rows

    @classmethod
    def of(cls, issuer: Issuer | None) -> IssuerContact | None:
        if issuer is None:
            return None
        return cls(name=issuer.name, province=issuer.province, hotline=issuer.hotline_label)


@dataclass
class BindingFailure:
    card_no: str
    at: object
    outcome: str
    outcome_label: str
    message: str
    advice: str
    issuer: IssuerContact | None
    call_issuer: bool


def binding_failures(user: User, *, limit: int = 5) -> list[BindingFailure]:
    """The user's latest failed binding attempts, each with its cause, what to do and whom to call."""
    attempts = list(
        BindingAttempt.objects.filter(user=user)
        .exclude(outcome__in=NOT_FAILURES)
        .select_related("card__issuer")
        .only("card_no", "created_at", "outcome", "message", "card__issuer")
        .order_by("-created_at", "-pk")[:limit]
    )
    codes = {a.card_no[:4] for a in attempts if a.card_id is None and len(a.card_no) >= 4}
    by_code = {
        row.code: row.issuer for row in IssuerNetworkCode.objects.filter(code__in=codes).select_related("issuer")
    }
    out = []
    for a in attempts:
        issuer = a.card.issuer if a.card_id else by_code.get(a.card_no[:4])
        out.append(
            BindingFailure(
                card_no=a.card_no,
                at=a.created_at,
                outcome=a.outcome,
                outcome_label=a.get_outcome_display(),
                message=a.message,
                advice=str(BINDING_ADVICE.get(a.outcome, "")),
                issuer=IssuerContact.of(issuer),
                call_issuer=a.outcome in CALL_ISSUER,
            )
        )
    return out


@dataclass
class TripTiming:
    travel_date: date
    visible_on: date
    should_be_visible: bool
    days: int
    message: str


def trip_timing(travel_date: date, *, today: date | None = None) -> TripTiming:
    """When a trip of ``travel_date`` shows up (the N-th natural day after travel)."""
    availability = transit_availability(today)
    visible_on = travel_date + (availability.today_trip_visible_on - availability.today)
    should = travel_date <= availability.complete_through
    if travel_date > availability.today:
        message = _("这一天还没到。通行后第 %(days)s 个自然日起可查，即 %(on)s 起。")
    elif should:
        message = _(
            "这天的通行记录应已可查（通行后第 %(days)s 个自然日起，即 %(on)s 起）。仍然查不到，请确认是否用已绑定的卡支付，"
            "或提交工单并注明通行日期和出入口。"
        )
    else:
        message = _(
            "通行记录要经过多级清分后才会传到票根，这天的通行预计 %(on)s 起可查（通行后第 %(days)s 个自然日）。"
        )
    return TripTiming(
        travel_date=travel_date,
        visible_on=visible_on,
        should_be_visible=should,
        days=availability.days,
        message=message % {"days": availability.days, "on": visible_on.strftime("%Y-%m-%d")},
    )


@dataclass
class ApplicationDiagnosis:
    application: Application
    status: str
    status_label: str
    failure_reason: str
    advice: str


APPLICATION_ADVICE = {
    Application.Status.SUBMITTED: gettext_lazy("申请已提交，正在排队开票，一般几分钟内完成，请稍后刷新。"),
    Application.Status.ISSUING: gettext_lazy("正在开票，完成后会显示发票；填写了邮箱的会同时发送到邮箱。"),
    Application.Status.ISSUED: gettext_lazy("已开票，可以在“我的发票”中下载，或查看电子汇总单。"),
    Application.Status.FAILED: gettext_lazy(
        "开票失败。请按失败原因修改后重新申请；无法自行处理的，请提交工单并附上这笔申请。"
    ),
}


def application_status(user: User, application_id) -> ApplicationDiagnosis:
    application = Application.objects.filter(user=user, pk=_int(application_id)).select_related("card").first()
    if application is None:
        raise Http404("application not found")
    return ApplicationDiagnosis(
        application=application,
        status=application.status,
        status_label=application.get_status_display(),
        failure_reason=application.failure_reason,
        advice=str(APPLICATION_ADVICE.get(application.status, "")),
    )


@dataclass
class TripInvoices:
    transit: Transit
    invoice_count: int
    sellers: list[tuple[str, int | None]]
    segments: list = field(default_factory=list)
    message: str = ""


def active_card_ids(user: User) -> list[int]:
    return list(Binding.objects.filter(user=user, ended_at__isnull=True).values_list("card_id", flat=True))


def trip_invoices(user: User, transit_id: str) -> TripInvoices:
    """Why a trip gives N invoices: the operators whose roads it used (a trip of a card the
    user has bound now)."""
    segments = TransitSegment.objects.select_related("section", "operator").order_by("seq")
    rows = Transit.objects.filter(by_transit_ids([transit_id]), card_id__in=active_card_ids(user)).prefetch_related(
        Prefetch("segments", queryset=segments)
    )
    trips = trip_views(rows)
    if not trips:
        raise Http404("trip not found")
    trip = trips[0]
    n = trip.invoice_count
    if n > 1:
        message = _(
            "这次通行经过 %(n)s 个经营单位（或同一单位的征税和不征税路段），每个经营单位为自己收取的通行费各开一张发票，所以会开出 %(n)s 张发票。"
        ) % {"n": n}
    else:
        message = _("这次通行只由一个经营单位收费，会开出 1 张发票。")
    return TripInvoices(
        transit=trip.transit, invoice_count=n, sellers=trip.invoices, segments=trip.segments, message=message
    )


@dataclass
class InvoiceTax:
    invoice: Invoice
    taxable: bool
    deductible: bool
    rates: list[int]
    deductible_tax: int
    reasons: list[str]


def invoice_tax(user: User, invoice_id) -> InvoiceTax:
    """Whether a document of the user is taxable (通行费 mark) and deductible, and why: the
    ledger's rule (``invoices.tax.deductibility``: a taxable VAT or 数电 invoice with an
    enterprise title), and, for this one document as it stands, neither a red-letter one nor a
    reversed one."""
    pk = _int(invoice_id)
    month = invoice_month(pk)  # one partition of invoices and of lines
    invoice = (
        Invoice.objects.filter(user=user, pk=pk, month=month)
        .prefetch_related(Prefetch("lines", queryset=InvoiceLine.objects.filter(month=month)))
        .only(
            "code",
            "number",
            "kind",
            "document_kind",
            "red",
            "status",
            "buyer_name",
            "buyer_tax_id",
            "total_tax",
            "total",
            "issued_on",
        )
        .first()
    )
    if invoice is None:
        raise Http404("invoice not found")
    taxable = invoice.kind == Invoice.Kind.TAXABLE
    rule = tax_rules.deductibility(
        taxable=taxable, buyer_tax_id=invoice.buyer_tax_id, document_kind=invoice.document_kind
    )
    rates = sorted({line.rate for line in invoice.lines.all() if line.rate is not None})
    reasons = []
    if rule == tax_rules.NOT_DEDUCTIBLE_FISCAL:
        reasons.append(
            _("这是通行费财政电子票据（政府还贷公路的通行费），不是增值税发票，不能抵扣进项税，可用于报销入账。")
        )
    elif taxable:
        reasons.append(_("这是征税发票：左上角印有“通行费”字样，税率栏显示适用税率。"))
    else:
        reasons.append(_("这是不征税发票（政府还贷公路的通行费或储值卡充值），没有“通行费”字样，不能抵扣进项税。"))
    if invoice.red:
        reasons.append(_("这是红字发票，用于冲销原发票，不能用于抵扣。"))
    if invoice.status == Invoice.Status.REVERSED:
        reasons.append(_("这张发票已被红冲，不能再用于报销或抵扣。"))
    if rule == tax_rules.NOT_DEDUCTIBLE_PERSONAL_TITLE:
        reasons.append(_("抬头是个人（没有纳税人识别号），不能用于单位抵扣；需要抵扣请用单位抬头换票。"))
    deductible = rule == tax_rules.DEDUCTIBLE and not invoice.red and invoice.status == Invoice.Status.NORMAL
    if deductible:
        reasons.append(_("抬头是单位且发票状态正常，可以凭它抵扣增值税进项税额（以主管税务机关规定为准）。"))
    return InvoiceTax(
        invoice=invoice,
        taxable=taxable,
        deductible=deductible,
        rates=rates,
        deductible_tax=invoice.total_tax if deductible else 0,
        reasons=[str(r) for r in reasons],
    )


def _int(value) -> int:
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        raise Http404("not a number") from None
    if not 0 < number < 2**62:
        raise Http404("out of range")
    return number
