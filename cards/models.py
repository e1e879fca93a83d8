"""Issuers, the issuers' card registry, bindings, binding attempts and invoice titles.

The registry holds what each issuer reserved for a card (holder, ID, mobile). ID numbers and
mobiles are encrypted; the keyed digests beside them are what binding compares, and the masked
copies are what staff see.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from encrypted_fields.fields import EncryptedCharField
from simple_history.models import HistoricalRecords


class Issuer(models.Model):
    """A card issuer (发行方) of one province. Configuration loaded by the platform operator."""

    code = models.SlugField(_("代码"), max_length=32, unique=True)
    name = models.CharField(_("名称"), max_length=100)
    brand = models.CharField(_("卡品牌"), max_length=32, help_text=_("如 速通卡、粤通卡、苏通卡"))
    province = models.CharField(_("省份"), max_length=16)
    province_code = models.CharField(_("省级行政区划代码"), max_length=2, db_index=True)
    hotline = models.CharField(_("客服热线"), max_length=32, blank=True)
    is_demo = models.BooleanField(_("演示数据"), default=True, help_text=_("热线等信息未经核实，页面上标注为演示"))
    # The issuer is the seller of recharge invoices (不征税) of its stored-value cards.
    tax_id = models.CharField(_("纳税人识别号"), max_length=18, blank=True)
    address_phone = models.CharField(_("地址、电话"), max_length=240, blank=True)
    bank_account = models.CharField(_("开户行及账号"), max_length=160, blank=True)
    machine_no = models.CharField(_("机器编号"), max_length=12, blank=True)
    # The partner account that pushes this issuer's registry and recharges: it owns the issuer's
    # network codes (IssuerNetworkCode), the one record of who owns a code.
    partner = models.ForeignKey(
        "accounts.Partner",
        verbose_name=_("合作方账户"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="issuers",
    )

    history = HistoricalRecords()

    class Meta:
        verbose_name = _("发行方")
        verbose_name_plural = _("发行方")
        ordering = ["province_code", "code"]

    def __str__(self) -> str:
        return f"{self.province}·{self.brand}"

    @property
    def hotline_label(self) -> str:
        if not self.hotline:
            return ""
        return _("%(hotline)s（演示）") % {"hotline": self.hotline} if self.is_demo else self.hotline


class IssuerNetworkCode(models.Model):
    """A card network code (卡片网络编号, the first four digits of a card number) and the issuer
    that owns it: the one record of code ownership. A partner may push the cards and recharges of
    a code when it is the issuer's partner account (``Issuer.partner``; cards.selectors.network_codes_of).
    """

    issuer = models.ForeignKey(Issuer, on_delete=models.PROTECT, related_name="network_codes", verbose_name=_("发行方"))
    code = models.CharField(_("卡片网络编号"), max_length=4, unique=True)

    class Meta:
        verbose_name = _("卡片网络编号")
        verbose_name_plural = _("卡片网络编号")

    def __str__(self) -> str:
        return self.code


class CardType(models.TextChoices):
    STORED_VALUE = "stored_value", _("储值卡")
    ACCOUNT = "account", _("记账卡")


class VehicleClass(models.TextChoices):
    PASSENGER = "passenger", _("客车")
    TRUCK = "truck", _("货车")


class PlateColor(models.IntegerChoices):
    BLUE = 0, _("蓝色")
    YELLOW = 1, _("黄色")
    BLACK = 2, _("黑色")
    WHITE = 3, _("白色")
    GRADIENT_GREEN = 4, _("渐变绿色")
    YELLOW_GREEN = 5, _("黄绿双拼色")
    BLUE_WHITE = 6, _("蓝白渐变色")
    TEMPORARY = 7, _("临时牌照")
    GREEN = 11, _("绿色")
    RED = 12, _("红色")


class IdType(models.TextChoices):
    RESIDENT_ID = "resident_id", _("居民身份证")
    USCC = "uscc", _("统一社会信用代码")
    PASSPORT = "passport", _("护照")
    OTHER = "other", _("其他证件")


class Card(models.Model):
    """One card of an issuer's registry, as last pushed by the issuer."""

    class Status(models.TextChoices):
        ACTIVE = "active", _("正常")
        CANCELLED = "cancelled", _("已注销")

    card_no = models.CharField(_("卡号"), max_length=20, unique=True)
    issuer = models.ForeignKey(Issuer, verbose_name=_("发行方"), on_delete=models.PROTECT, related_name="cards")
    card_type = models.CharField(_("卡类型"), max_length=16, choices=CardType.choices)
    plate = models.CharField(_("车牌号"), max_length=8, db_index=True)
    plate_color = models.PositiveSmallIntegerField(_("车牌颜色"), choices=PlateColor.choices)
    vehicle_class = models.CharField(_("车辆类别"), max_length=16, choices=VehicleClass.choices)
    holder_name = models.CharField(_("持卡人"), max_length=100)
    id_type = models.CharField(_("证件类型"), max_length=16, choices=IdType.choices)
    id_number = EncryptedCharField(_("证件号码"), max_length=32)
    id_number_digest = models.CharField(max_length=64, db_index=True, editable=False, verbose_name=_("证件号码摘要"))
    id_number_masked = models.CharField(_("证件号码（脱敏）"), max_length=32, editable=False)
    mobile = EncryptedCharField(_("预留手机号"), max_length=11)
    mobile_digest = models.CharField(max_length=64, db_index=True, editable=False, verbose_name=_("预留手机号摘要"))
    mobile_masked = models.CharField(_("预留手机号（脱敏）"), max_length=11, db_index=True, editable=False)
    status = models.CharField(_("状态"), max_length=16, choices=Status.choices, default=Status.ACTIVE)
    # Digest of everything the issuer pushed: an unchanged re-push is found without decrypting.
    fingerprint = models.CharField(max_length=64, editable=False, verbose_name=_("内容指纹"))
    created_at = models.DateTimeField(_("首次推送"), default=timezone.now)
    updated_at = models.DateTimeField(_("最近变更"), default=timezone.now)

    history = HistoricalRecords(excluded_fields=["id_number", "mobile", "fingerprint"])

    class Meta:
        verbose_name = _("ETC卡（发行方登记）")
        verbose_name_plural = _("ETC卡（发行方登记）")

    def __str__(self) -> str:
        return f"{self.card_no} {self.plate}"

    @property
    def network_code(self) -> str:
        return self.card_no[:4]

    @property
    def is_enterprise(self) -> bool:
        return self.id_type == IdType.USCC


class InvoiceTitle(models.Model):
    """A buyer (发票抬头) a user keeps; copied onto each invoice when it is issued."""

    class Kind(models.TextChoices):
        PERSONAL = "personal", _("个人")
        ENTERPRISE = "enterprise", _("单位")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="invoice_titles", verbose_name=_("用户")
    )
    kind = models.CharField(_("类型"), max_length=16, choices=Kind.choices)
    name = models.CharField(_("名称"), max_length=100)
    tax_id = models.CharField(_("纳税人识别号"), max_length=18, blank=True)
    address = models.CharField(_("地址"), max_length=200, blank=True)
    phone = models.CharField(_("电话"), max_length=32, blank=True)
    bank = models.CharField(_("开户行"), max_length=100, blank=True)
    bank_account = models.CharField(_("账号"), max_length=40, blank=True)
    email = models.EmailField(_("收票邮箱"), blank=True)
    created_at = models.DateTimeField(default=timezone.now, verbose_name=_("创建时间"))
    deleted_at = models.DateTimeField(null=True, blank=True, verbose_name=_("删除时间"))

    history = HistoricalRecords()

    class Meta:
        verbose_name = _("发票抬头")
        verbose_name_plural = _("发票抬头")
        constraints = [
            models.CheckConstraint(condition=Q(kind="personal") | ~Q(tax_id=""), name="enterprise_title_has_tax_id"),
        ]

    def __str__(self) -> str:
        return f"{self.name}{f' {self.tax_id}' if self.tax_id else ''}"


class Binding(models.Model):
    """A card bound to an account, from binding to unbinding. History is never deleted."""

    class EndKind(models.TextChoices):
        ACTIVE = "active", _("用户解绑")
        PASSIVE = "passive", _("发行方信息变更自动解绑")
        STAFF = "staff", _("客服操作解绑")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="bindings", verbose_name=_("用户")
    )
    card = models.ForeignKey(Card, on_delete=models.PROTECT, related_name="bindings", verbose_name=_("ETC卡"))
    default_title = models.ForeignKey(
        InvoiceTitle, verbose_name=_("默认抬头"), on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    bound_at = models.DateTimeField(_("绑定时间"), default=timezone.now)
    ended_at = models.DateTimeField(_("解绑时间"), null=True, blank=True)
    end_kind = models.CharField(_("解绑方式"), max_length=16, choices=EndKind.choices, blank=True)
    end_reason = models.CharField(_("解绑原因"), max_length=200, blank=True)
    # An ending by the issuer or by staff is told in the user's message centre (support.Notification),
    # and announced once on their next page or in the App's cards answer.

    history = HistoricalRecords()

    class Meta:
        verbose_name = _("绑定关系")
        verbose_name_plural = _("绑定关系")
        constraints = [
            models.UniqueConstraint(
                fields=["card"], condition=Q(ended_at__isnull=True), name="one_active_binding_per_card"
            ),
        ]
        indexes = [models.Index(fields=["user", "ended_at"], name="binding_user_active")]

    def __str__(self) -> str:
        return f"{self.card_id} → {self.user_id}"

    @property
    def is_active(self) -> bool:
        return self.ended_at is None


class BindingAttempt(models.Model):
    """Every binding attempt with its outcome, for caps and for the contact centre."""

    class Outcome(models.TextChoices):
        PENDING = "pending", _("待短信确认")
        BOUND = "bound", _("绑定成功")
        INVALID = "invalid", _("输入有误")
        CARD_NOT_FOUND = "card_not_found", _("卡号不存在")
        CARD_CANCELLED = "card_cancelled", _("卡已注销")
        ID_MISMATCH = "id_mismatch", _("证件信息不符")
        MOBILE_MISMATCH = "mobile_mismatch", _("预留手机号不符")
        HOLDER_NAME_MISMATCH = "holder_name_mismatch", _("开户人名称不符")
        ALREADY_BOUND = "already_bound", _("已被其他账户绑定")
        NOT_ENTERPRISE_CONTACT = "not_enterprise_contact", _("非单位联系人账户")
        TOO_MANY_ATTEMPTS = "too_many_attempts", _("尝试次数过多")
        CODE_FAILED = "code_failed", _("短信验证失败")
        CARD_CHANGED = "card_changed", _("验证后发行方更新了卡信息")
        # Bulk binding only: a card already bound to this very account (reported, not counted:
        # it says nothing of anyone else's card), and the eligible cards of a batch whose
        # confirmation failed for another card of the batch (all or nothing).
        ALREADY_YOURS = "already_yours", _("已绑定在本账户")
        BATCH_ABORTED = "batch_aborted", _("同批其他卡未通过，本批未绑定")

    FAILURES = (
        Outcome.CARD_NOT_FOUND,
        Outcome.CARD_CANCELLED,
        Outcome.ID_MISMATCH,
        Outcome.MOBILE_MISMATCH,
        Outcome.HOLDER_NAME_MISMATCH,
        Outcome.ALREADY_BOUND,
        Outcome.NOT_ENTERPRISE_CONTACT,
    )

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False, verbose_name=_("尝试编号"))
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="binding_attempts", verbose_name=_("用户")
    )
    card_no = models.CharField(_("卡号"), max_length=32)
    card = models.ForeignKey(
        Card, on_delete=models.PROTECT, null=True, blank=True, related_name="attempts", verbose_name=_("ETC卡")
    )
    id_type = models.CharField(_("证件类型"), max_length=16, blank=True)
    outcome = models.CharField(_("结果"), max_length=32, choices=Outcome.choices)
    message = models.CharField(_("提示"), max_length=300, blank=True)
    created_at = models.DateTimeField(_("时间"), default=timezone.now, db_index=True)
    confirmed_at = models.DateTimeField(null=True, blank=True, verbose_name=_("确认时间"))
    # The client the attempt came from (a keyed digest of its address): failures are counted per
    # (client, card) too, so that strangers' failures elsewhere do not stop the holder.
    client_digest = models.CharField(_("客户端"), max_length=64, blank=True, default="", editable=False)
    # Made while the card was at its daily ceiling of failures from all clients: the reserved
    # mobile proves the code first, and the typed ID (its keyed digest) is compared only then.
    proof_first = models.BooleanField(_("先验证预留手机号"), default=False)
    id_number_digest = models.CharField(_("证件号码摘要"), max_length=64, blank=True, default="", editable=False)
    # The same for the holder name typed (开户人名称, normalised), when one was typed.
    holder_name_digest = models.CharField(_("开户人名称摘要"), max_length=64, blank=True, default="", editable=False)
    # The bulk binding (批量绑卡) the attempt belongs to, if any: one attempt per card of its list.
    bulk = models.ForeignKey(
        "BulkBinding",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="attempts",
        verbose_name=_("批量绑卡"),
    )

    class Meta:
        verbose_name = _("绑卡尝试")
        verbose_name_plural = _("绑卡尝试")
        indexes = [
            models.Index(fields=["user", "-created_at"], name="attempt_user_recent"),
            models.Index(fields=["card_no", "-created_at"], name="attempt_card_recent"),
        ]

    def __str__(self) -> str:
        return f"{self.card_no} {self.get_outcome_display()}"


class BulkBinding(models.Model):
    """An enterprise account's list of company cards, confirmed with one SMS code to the
    account's contact mobile. Each card of the list has its ``BindingAttempt``; ``refused``
    keeps what the clerk was told about the cards that were not eligible (line, card number as
    typed, code, message, issuer), which names no ID number and no mobile."""

    class Status(models.TextChoices):
        PENDING = "pending", _("待短信确认")
        BOUND = "bound", _("已绑定")
        FAILED = "failed", _("未绑定")

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False, verbose_name=_("批次编号"))
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="bulk_bindings", verbose_name=_("用户")
    )
    status = models.CharField(_("状态"), max_length=16, choices=Status.choices, default=Status.PENDING)
    lines = models.PositiveIntegerField(_("提交的卡号数"), default=0)
    eligible = models.PositiveIntegerField(_("可绑定的卡数"), default=0)
    refused = models.JSONField(_("未通过的卡"), default=list, blank=True)
    message = models.CharField(_("结果"), max_length=300, blank=True)
    created_at = models.DateTimeField(_("时间"), default=timezone.now, db_index=True)
    finished_at = models.DateTimeField(_("完成时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("批量绑卡")
        verbose_name_plural = _("批量绑卡")
        indexes = [models.Index(fields=["user", "-created_at"], name="bulk_user_recent")]

    def __str__(self) -> str:
        return f"{self.public_id} {self.get_status_display()}"


class BindingCapLift(models.Model):
    """A supervisor lifted today's cap on failed binding attempts of an account, or of one card
    number, with a written reason. Failures before the lift no longer count towards that cap
    today; later ones do, so the protection stays. The row is the audit: who, when, what, why."""

    class Scope(models.TextChoices):
        ACCOUNT = "account", _("账户上限")
        CARD = "card", _("卡上限")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("客户账户")
    )
    scope = models.CharField(_("解除范围"), max_length=8, choices=Scope.choices)
    card_no = models.CharField(_("卡号"), max_length=32, blank=True)
    failures = models.PositiveSmallIntegerField(_("解除前计入的失败次数"))
    staff = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("操作人")
    )
    reason = models.CharField(_("解除原因"), max_length=200)
    created_at = models.DateTimeField(_("解除时间"), default=timezone.now, db_index=True)

    class Meta:
        verbose_name = _("绑卡上限解除记录")
        verbose_name_plural = _("绑卡上限解除记录")
        default_permissions = ("view",)
        permissions = [("lift_cap", _("可解除账户或卡今日的绑卡失败上限"))]
        indexes = [
            models.Index(fields=["user", "-created_at"], name="caplift_user_recent"),
            models.Index(fields=["card_no", "-created_at"], name="caplift_card_recent"),
            models.Index(fields=["staff", "-created_at"], name="caplift_staff_recent"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(scope="account", card_no="") | (Q(scope="card") & ~Q(card_no="")),
                name="caplift_card_no_iff_card_scope",
            ),
        ]

    def __str__(self) -> str:
        if self.scope == self.Scope.CARD:
            return _("卡 %(card_no)s 的今日绑卡失败上限") % {"card_no": self.card_no}
        return str(_("账户今日绑卡失败上限"))


class AutoInvoiceMode(models.TextChoices):
    """The same values as ``invoices.Application.Mode``: what each automatic application is."""

    PER_TRIP = "per_trip", _("按次开票")
    MONTHLY = "monthly", _("按月汇总")


class AutoInvoiceSetting(models.Model):
    """自动开票: each month, once the month's trips are all available, the month is applied for
    with the card's default title and the ZIP mailed. One row per account (``binding`` empty:
    every bound card of the account) and at most one per bound card (its own choice, which
    overrides the account's). ``paused_at`` keeps the choices while nothing is applied for.
    Written by ``cards.autoinvoice``; the history shows staff who turned what on or off, when."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="auto_invoice_settings", verbose_name=_("用户")
    )
    binding = models.ForeignKey(
        Binding,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="auto_invoice_settings",
        verbose_name=_("绑定关系（空为账户下全部卡）"),
    )
    enabled = models.BooleanField(_("已开启"), default=False)
    mode = models.CharField(
        _("开票方式"), max_length=16, choices=AutoInvoiceMode.choices, default=AutoInvoiceMode.MONTHLY
    )
    email = models.EmailField(_("收票邮箱"), blank=True, help_text=_("为空时使用发票抬头的收票邮箱"))
    paused_at = models.DateTimeField(_("暂停时间"), null=True, blank=True)
    created_at = models.DateTimeField(_("创建时间"), default=timezone.now)
    updated_at = models.DateTimeField(_("最近修改"), default=timezone.now)

    # The address is the customer's; the console shows it masked, and its history leaves it out.
    history = HistoricalRecords(excluded_fields=["email"])

    class Meta:
        verbose_name = _("自动开票设置")
        verbose_name_plural = _("自动开票设置")
        constraints = [
            models.UniqueConstraint(
                fields=["user"], condition=Q(binding__isnull=True), name="autoinvoice_one_account_setting"
            ),
            models.UniqueConstraint(
                fields=["binding"], condition=Q(binding__isnull=False), name="autoinvoice_one_card_setting"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.binding_id or '*'} → {self.user_id}"

    @property
    def active(self) -> bool:
        return self.enabled and self.paused_at is None


class AutoInvoiceRun(models.Model):
    """What automatic invoicing did for one card-month: at most one row per card and month (the
    unique constraint, taken under the card's row lock), so the job runs exactly once however
    often, and however concurrently, it is started. ``applied``: the application it submitted
    (its state is the application's); ``skipped``: nothing to do (no trips, all applied for, a
    stored-value card that takes recharge invoices); ``refused``: the user must act (no default
    title): told by message and SMS once, tried again on each run until it can be applied for."""

    class Status(models.TextChoices):
        APPLIED = "applied", _("已提交申请")
        SKIPPED = "skipped", _("无需开票")
        REFUSED = "refused", _("未能申请")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="auto_invoice_runs", verbose_name=_("用户")
    )
    card = models.ForeignKey(Card, on_delete=models.PROTECT, related_name="auto_invoice_runs", verbose_name=_("ETC卡"))
    month = models.CharField(_("月份"), max_length=7)
    status = models.CharField(_("结果"), max_length=16, choices=Status.choices)
    code = models.CharField(_("原因代码"), max_length=32, blank=True)
    message = models.CharField(_("说明"), max_length=300, blank=True)
    mode = models.CharField(_("开票方式"), max_length=16, choices=AutoInvoiceMode.choices)
    application = models.OneToOneField(
        "invoices.Application",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="auto_invoice_run",
        verbose_name=_("开票申请"),
    )
    created_at = models.DateTimeField(_("首次运行"), default=timezone.now)
    updated_at = models.DateTimeField(_("最近运行"), default=timezone.now)
    told_at = models.DateTimeField(_("已通知用户"), null=True, blank=True)

    class Meta:
        verbose_name = _("自动开票记录")
        verbose_name_plural = _("自动开票记录")
        constraints = [models.UniqueConstraint(fields=["card", "month"], name="autoinvoice_once_per_card_month")]
        indexes = [models.Index(fields=["user", "-month"], name="autoinvoice_run_user_recent")]

    def __str__(self) -> str:
        return f"{self.card_id} {self.month} {self.get_status_display()}"
