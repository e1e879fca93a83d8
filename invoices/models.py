"""Operators (the sellers), road sections, transit records with their split, recharges.

Amounts are integers in fen. Transit records and recharges are pushed by partners and are
never deleted; a transit's split is replaced while it is open and frozen once it is applied
for or invoiced.
"""

from __future__ import annotations

from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from cards.models import PlateColor, VehicleClass

from .regimes import DocumentKind


class Operator(models.Model):
    """A toll-road operator (收费公路经营管理单位): the seller on an invoice."""

    code = models.CharField(_("代码"), max_length=32, unique=True)
    name = models.CharField(_("名称"), max_length=100)
    tax_id = models.CharField(_("纳税人识别号"), max_length=18)
    address = models.CharField(_("地址"), max_length=200, blank=True)
    phone = models.CharField(_("电话"), max_length=32, blank=True)
    bank = models.CharField(_("开户行"), max_length=100, blank=True)
    bank_account = models.CharField(_("账号"), max_length=40, blank=True)
    province_code = models.CharField(_("省份代码"), max_length=4, help_text=_("4位，如 4100 河南"))
    machine_no = models.CharField(_("机器编号"), max_length=12)
    pushed_by = models.ForeignKey(
        "accounts.Partner", verbose_name=_("推送方"), on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    fingerprint = models.CharField(max_length=64, editable=False, default="", verbose_name=_("内容指纹"))
    created_at = models.DateTimeField(_("创建时间"), default=timezone.now)
    updated_at = models.DateTimeField(_("最近变更"), default=timezone.now)

    history = HistoricalRecords(excluded_fields=["fingerprint"])

    class Meta:
        verbose_name = _("路段经营单位")
        verbose_name_plural = _("路段经营单位")

    def __str__(self) -> str:
        return self.name


class RoadSection(models.Model):
    class Grade(models.TextChoices):
        EXPRESSWAY = "expressway", _("高速公路")
        CLASS1 = "class1", _("一级公路")
        CLASS2 = "class2", _("二级公路")
        BRIDGE_TUNNEL = "bridge_tunnel", _("独立桥梁、隧道")

    class Property(models.TextChoices):
        OPERATING = "operating", _("经营性")
        LOAN_REPAYMENT = "loan_repayment", _("政府还贷")

    code = models.CharField(_("路段代码"), max_length=32, unique=True)
    name = models.CharField(_("路段名称"), max_length=100)
    operator = models.ForeignKey(
        Operator, verbose_name=_("经营单位"), on_delete=models.PROTECT, related_name="sections"
    )
    grade = models.CharField(_("等级"), max_length=16, choices=Grade.choices)
    property = models.CharField(_("性质"), max_length=16, choices=Property.choices)
    construction_start = models.DateField(_("合同开工日期"))
    simplified_method = models.BooleanField(_("适用简易计税"), default=True)
    fingerprint = models.CharField(max_length=64, editable=False, default="", verbose_name=_("内容指纹"))
    created_at = models.DateTimeField(default=timezone.now, verbose_name=_("创建时间"))
    updated_at = models.DateTimeField(default=timezone.now, verbose_name=_("更新时间"))

    history = HistoricalRecords(excluded_fields=["fingerprint"])

    class Meta:
        verbose_name = _("路段")
        verbose_name_plural = _("路段")

    def __str__(self) -> str:
        return f"{self.name}（{self.code}）"


class InvoiceState(models.TextChoices):
    OPEN = "open", _("未开票")
    APPLIED = "applied", _("开票中")
    INVOICED = "invoiced", _("已开票")


class Transit(models.Model):
    """A toll trip after clearing and splitting, as pushed by a clearing centre."""

    # National trip id. Unique across all months through TransitKey (a partitioned table holds a
    # unique key only with the partition key in it: docs/scaling.md), so no index of its own here.
    transit_id = models.CharField(_("通行记录编号"), max_length=64)
    # Indexed by transit_card_month, which starts with the card.
    card = models.ForeignKey(
        "cards.Card", verbose_name=_("ETC卡"), on_delete=models.PROTECT, related_name="transits", db_index=False
    )
    plate = models.CharField(_("车牌号"), max_length=8)
    plate_color = models.PositiveSmallIntegerField(_("车牌颜色"), choices=PlateColor.choices)
    vehicle_class = models.CharField(_("车辆类别"), max_length=16, choices=VehicleClass.choices)
    entry_station = models.CharField(_("入口站"), max_length=64)
    entry_time = models.DateTimeField(_("入口时间"))
    exit_station = models.CharField(_("出口站"), max_length=64)
    exit_time = models.DateTimeField(_("出口时间"))
    # The travel month and date (Asia/Shanghai) of the exit: what users choose by and tax follows.
    # On PostgreSQL the table is partitioned by it, one partition a month (invoices/partitions.py).
    month = models.CharField(_("通行月份"), max_length=7)
    travel_date = models.DateField(_("通行日期"))
    fee = models.BigIntegerField(_("通行费（分）"))
    state = models.CharField(_("开票状态"), max_length=16, choices=InvoiceState.choices, default=InvoiceState.OPEN)
    # Digest of everything pushed, split included: an identical re-push is found in one compare.
    fingerprint = models.CharField(max_length=64, editable=False, verbose_name=_("内容指纹"))
    # Reference data the product never deletes; checked by the ingest in the same transaction.
    # No database constraint or index: either would cost every trip of every batch (docs/performance.md).
    pushed_by = models.ForeignKey(
        "accounts.Partner",
        verbose_name=_("推送方"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )
    created_at = models.DateTimeField(_("接收时间"), default=timezone.now)
    updated_at = models.DateTimeField(_("最近变更"), default=timezone.now)

    class Meta:
        verbose_name = _("通行记录")
        verbose_name_plural = _("通行记录")
        indexes = [models.Index(fields=["card", "month", "exit_time"], name="transit_card_month")]
        constraints = [models.CheckConstraint(condition=Q(fee__gte=0), name="transit_fee_not_negative")]

    def __str__(self) -> str:
        return self.transit_id


class TransitSegment(models.Model):
    """One road section's share of a trip (the split). Its operator invoices it."""

    # Indexed by segment_seq_unique, which starts with the trip. Segments are written only by the
    # ingest, in the transaction that writes their trip and with its id: a database constraint
    # would re-check 15,000 of them a batch at commit (docs/performance.md, Ingest).
    transit = models.ForeignKey(
        Transit,
        on_delete=models.CASCADE,
        related_name="segments",
        db_index=False,
        db_constraint=False,
        verbose_name=_("通行记录"),
    )
    seq = models.PositiveSmallIntegerField(_("序号"))
    # Sections and operators are reference data the product never deletes, resolved by the ingest
    # in the same transaction: no database constraint or index, which would cost every segment of
    # every batch at commit (docs/performance.md, Ingest).
    section = models.ForeignKey(
        RoadSection,
        verbose_name=_("路段"),
        on_delete=models.PROTECT,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )
    operator = models.ForeignKey(
        Operator,
        verbose_name=_("经营单位"),
        on_delete=models.PROTECT,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )
    fee = models.BigIntegerField(_("金额（分）"))
    # Its trip's month, written with it: the partition key of segments on PostgreSQL, so that a
    # trip's segments are read from its month's partition alone.
    month = models.CharField(_("通行月份"), max_length=7, default="")

    class Meta:
        verbose_name = _("拆分明细")
        verbose_name_plural = _("拆分明细")
        ordering = ["transit_id", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["transit", "seq"], name="segment_seq_unique"),
            models.CheckConstraint(condition=Q(fee__gte=0), name="segment_fee_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.transit_id}#{self.seq}"


class TransitKey(models.Model):
    """Where a national trip id lives: its trip's id and month. The one global key of trips —
    the ingest finds re-pushed trips here and a second trip with the same id cannot be written
    (the primary key), whatever month either falls in."""

    transit_id = models.CharField(_("通行记录编号"), max_length=64, primary_key=True)
    trip_id = models.BigIntegerField(_("通行记录 ID"))
    month = models.CharField(_("通行月份"), max_length=7)

    class Meta:
        verbose_name = _("通行记录编号索引")
        verbose_name_plural = _("通行记录编号索引")

    def __str__(self) -> str:
        return self.transit_id


class TransitChange(models.Model):
    """The audit of a replaced split, and of a refused change to an invoiced trip."""

    class Kind(models.TextChoices):
        REPLACED = "replaced", _("拆分已更新")
        REFUSED = "refused", _("已开票，变更被拒绝")

    # References into partitioned trips carry no database constraint (PostgreSQL would need the
    # month in the key); PROTECT and the services guard them (docs/scaling.md).
    transit = models.ForeignKey(
        Transit, on_delete=models.PROTECT, related_name="changes", db_constraint=False, verbose_name=_("通行记录")
    )
    kind = models.CharField(max_length=16, choices=Kind.choices, verbose_name=_("类型"))
    partner = models.ForeignKey(
        "accounts.Partner", on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("推送方")
    )
    before = models.JSONField(verbose_name=_("原值"))
    after = models.JSONField(verbose_name=_("新值"))
    at = models.DateTimeField(default=timezone.now, verbose_name=_("时间"))

    class Meta:
        verbose_name = _("通行记录变更")
        verbose_name_plural = _("通行记录变更")

    def __str__(self) -> str:
        return f"{self.transit_id} {self.kind}"


class Recharge(models.Model):
    """A recharge (充值) of a stored-value card, pushed by its issuer."""

    recharge_id = models.CharField(_("充值流水号"), max_length=64, unique=True)
    card = models.ForeignKey("cards.Card", verbose_name=_("ETC卡"), on_delete=models.PROTECT, related_name="recharges")
    amount = models.BigIntegerField(_("金额（分）"))
    recharged_at = models.DateTimeField(_("充值时间"))
    month = models.CharField(_("充值月份"), max_length=7)
    state = models.CharField(_("开票状态"), max_length=16, choices=InvoiceState.choices, default=InvoiceState.OPEN)
    fingerprint = models.CharField(max_length=64, editable=False, verbose_name=_("内容指纹"))
    pushed_by = models.ForeignKey(
        "accounts.Partner", verbose_name=_("推送方"), on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("接收时间"), default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now, verbose_name=_("更新时间"))

    class Meta:
        verbose_name = _("充值记录")
        verbose_name_plural = _("充值记录")
        indexes = [models.Index(fields=["card", "recharged_at"], name="recharge_card_time")]
        constraints = [models.CheckConstraint(condition=Q(amount__gt=0), name="recharge_amount_positive")]

    def __str__(self) -> str:
        return self.recharge_id


# --- applications and invoices -------------------------------------------------------------


class Batch(models.Model):
    """批量开票: one request of a fleet for a month across many of its bound cards. It groups
    the per-card consumption applications it creates (each card-month its own application, so
    numbering, issuing, failure and reversal stay those of an application) and remembers the
    cards it left out and why. Its progress is read from its applications."""

    user = models.ForeignKey(
        "accounts.User", verbose_name=_("用户"), on_delete=models.PROTECT, related_name="invoice_batches"
    )
    month = models.CharField(_("月份"), max_length=7)
    mode = models.CharField(
        _("开票方式"), max_length=16, choices=[("per_trip", _("按次开票")), ("monthly", _("按月汇总"))]
    )
    title = models.ForeignKey(
        "cards.InvoiceTitle", verbose_name=_("发票抬头"), on_delete=models.PROTECT, related_name="+"
    )
    email = models.EmailField(_("收票邮箱"), blank=True)
    all_cards = models.BooleanField(_("全部已绑定的卡"), default=True)
    card_count = models.PositiveIntegerField(_("所选卡数"), default=0)
    # The cards left out: [{"card_no", "plate", "code", "reason"}], as the confirmation showed them.
    skipped = models.JSONField(_("未开票的卡"), default=list, blank=True)
    invoice_count = models.PositiveIntegerField(_("计划发票张数"), default=0)
    total = models.BigIntegerField(_("计划价税合计（分）"), default=0)
    created_at = models.DateTimeField(_("提交时间"), default=timezone.now)

    class Meta:
        verbose_name = _("批量开票")
        verbose_name_plural = _("批量开票")
        indexes = [models.Index(fields=["user", "-created_at"], name="batch_user_recent")]

    def __str__(self) -> str:
        return f"{self.month} #{self.pk}"


class Application(models.Model):
    """An application for invoices (开票申请). The row in state ``submitted`` is the outbox of
    background issuing: a periodic sweep re-queues what waits too long."""

    class Kind(models.TextChoices):
        CONSUMPTION = "consumption", _("通行费开票")
        RECHARGE = "recharge", _("充值开票")
        TITLE_CHANGE = "title_change", _("换票")
        REVERSAL = "reversal", _("红冲")

    class Mode(models.TextChoices):
        PER_TRIP = "per_trip", _("按次开票")
        MONTHLY = "monthly", _("按月汇总")

    class Status(models.TextChoices):
        SUBMITTED = "submitted", _("已提交")
        ISSUING = "issuing", _("开票中")
        ISSUED = "issued", _("已开票")
        FAILED = "failed", _("开票失败")

    user = models.ForeignKey(
        "accounts.User", verbose_name=_("用户"), on_delete=models.PROTECT, related_name="applications"
    )
    card = models.ForeignKey(
        "cards.Card", verbose_name=_("ETC卡"), on_delete=models.PROTECT, related_name="applications"
    )
    kind = models.CharField(_("类型"), max_length=16, choices=Kind.choices)
    mode = models.CharField(_("开票方式"), max_length=16, choices=Mode.choices, blank=True)
    month = models.CharField(_("月份"), max_length=7, blank=True)
    whole_month = models.BooleanField(_("整月开票"), default=False)
    title = models.ForeignKey(
        "cards.InvoiceTitle", verbose_name=_("发票抬头"), on_delete=models.PROTECT, related_name="+"
    )
    email = models.EmailField(_("收票邮箱"), blank=True)
    status = models.CharField(_("状态"), max_length=16, choices=Status.choices, default=Status.SUBMITTED, db_index=True)
    failure_reason = models.CharField(_("失败原因"), max_length=300, blank=True)
    # title change: the application whose invoices are re-issued; reversal: the invoice reversed
    original = models.ForeignKey(
        "self", verbose_name=_("原申请"), on_delete=models.PROTECT, null=True, blank=True, related_name="changes"
    )
    invoice_to_reverse = models.ForeignKey(
        "Invoice",
        verbose_name=_("被红冲发票"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_constraint=False,  # invoices are partitioned by month on PostgreSQL (docs/scaling.md)
    )
    batch = models.ForeignKey(
        Batch,
        verbose_name=_("批量开票"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="applications",
    )
    summary_no = models.CharField(_("汇总单号"), max_length=16, unique=True, null=True, blank=True)
    invoice_count = models.PositiveIntegerField(_("发票张数"), default=0)
    total = models.BigIntegerField(_("价税合计（分）"), default=0)
    attempts = models.PositiveSmallIntegerField(_("开票尝试次数"), default=0)
    created_at = models.DateTimeField(_("提交时间"), default=timezone.now, db_index=True)
    queued_at = models.DateTimeField(_("最近入队"), default=timezone.now)
    started_at = models.DateTimeField(_("开始开票"), null=True, blank=True)
    issued_at = models.DateTimeField(_("开票完成"), null=True, blank=True)
    emailed_at = models.DateTimeField(_("邮件发送"), null=True, blank=True)

    history = HistoricalRecords()

    class Meta:
        verbose_name = _("开票申请")
        verbose_name_plural = _("开票申请")
        indexes = [
            models.Index(fields=["user", "-created_at"], name="application_user_recent"),
            models.Index(fields=["status", "queued_at"], name="application_outbox"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk}"


class ApplicationItem(models.Model):
    """A trip or a recharge an application covers."""

    application = models.ForeignKey(
        Application, on_delete=models.PROTECT, related_name="items", verbose_name=_("开票申请")
    )
    transit = models.ForeignKey(
        Transit,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="application_items",
        db_constraint=False,
        verbose_name=_("通行记录"),
    )
    recharge = models.ForeignKey(
        Recharge,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="application_items",
        verbose_name=_("充值记录"),
    )

    class Meta:
        verbose_name = _("申请明细")
        verbose_name_plural = _("申请明细")
        constraints = [
            models.CheckConstraint(
                condition=Q(transit__isnull=False, recharge__isnull=True)
                | Q(transit__isnull=True, recharge__isnull=False),
                name="item_is_transit_or_recharge",
            ),
            models.UniqueConstraint(fields=["application", "transit"], name="item_transit_once"),
            models.UniqueConstraint(fields=["application", "recharge"], name="item_recharge_once"),
        ]

    def __str__(self) -> str:
        return f"{self.application_id}:{self.transit_id or self.recharge_id}"


class CardInvoiceBasis(models.Model):
    """A stored-value card's one-time choice: recharge invoices or consumption invoices."""

    class Basis(models.TextChoices):
        RECHARGE = "recharge", _("按充值开票")
        CONSUMPTION = "consumption", _("按通行开票")

    card = models.OneToOneField(
        "cards.Card", on_delete=models.PROTECT, related_name="invoice_basis", verbose_name=_("ETC卡")
    )
    basis = models.CharField(_("开票方式"), max_length=16, choices=Basis.choices)
    fixed_by = models.ForeignKey(Application, on_delete=models.PROTECT, related_name="+", verbose_name=_("确定方式"))
    fixed_at = models.DateTimeField(default=timezone.now, verbose_name=_("确定时间"))

    class Meta:
        verbose_name = _("储值卡开票方式")
        verbose_name_plural = _("储值卡开票方式")

    def __str__(self) -> str:
        return f"{self.card_id} {self.basis}"


class InvoiceCounter(models.Model):
    """Numbering of one invoice-code family: seller province + year. Numbers are taken in
    blocks by one UPDATE inside the issuing transaction; a batch used up starts the next."""

    province_code = models.CharField(max_length=4)
    year = models.PositiveSmallIntegerField()
    batch = models.PositiveSmallIntegerField(default=1)
    next_number = models.PositiveIntegerField(default=1)

    class Meta:
        verbose_name = _("发票号段")
        verbose_name_plural = _("发票号段")
        constraints = [models.UniqueConstraint(fields=["province_code", "year"], name="counter_per_province_year")]

    def __str__(self) -> str:
        return f"{self.province_code}/{self.year} batch {self.batch} next {self.next_number}"


class SummaryCounter(models.Model):
    """The 8-digit sequence of summary sheets per issuer province and month."""

    province = models.CharField(max_length=2)
    month = models.CharField(max_length=6)  # YYYYMM
    next_number = models.PositiveIntegerField(default=1)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["province", "month"], name="summary_counter_unique")]

    def __str__(self) -> str:
        return f"{self.province}{self.month}:{self.next_number}"


class DocumentCounter(models.Model):
    """Numbering of one series of the newer document kinds: a fiscal e-bill code (numbers of 10
    digits within it) or a 数电 series (year + region + channel; sequences of 15 digits). Taken
    like the VAT counters, by one UPDATE inside the issuing transaction: gap-free, exactly once."""

    series = models.CharField(max_length=24, unique=True)
    next_number = models.BigIntegerField(default=1)

    class Meta:
        verbose_name = _("票据号段")
        verbose_name_plural = _("票据号段")

    def __str__(self) -> str:
        return f"{self.series} next {self.next_number}"


class Invoice(models.Model):
    """An issued toll document: a VAT e-invoice, a fiscal e-bill or a 数电 invoice (``document_kind``). Immutable once written but for its status (reversed) and its
    documents; buyer and seller are snapshots, totals are stored, never recomputed."""

    class Kind(models.TextChoices):
        TAXABLE = "taxable", _("征税")
        NON_TAXABLE = "non_taxable", _("不征税")

    class Status(models.TextChoices):
        NORMAL = "normal", _("正常")
        REVERSED = "reversed", _("已红冲")

    class RenderStatus(models.TextChoices):
        PENDING = "pending", _("待生成")
        RENDERED = "rendered", _("已生成")
        FAILED = "failed", _("生成失败")

    application = models.ForeignKey(
        Application, on_delete=models.PROTECT, related_name="invoices", verbose_name=_("开票申请")
    )
    # Indexed by invoice_user_card_month, which starts with the user.
    user = models.ForeignKey(
        "accounts.User", on_delete=models.PROTECT, related_name="invoices", db_index=False, verbose_name=_("用户")
    )
    card = models.ForeignKey("cards.Card", on_delete=models.PROTECT, related_name="invoices", verbose_name=_("ETC卡"))
    # What kind of document this is, decided at issuing by the regime in force on the day the
    # toll was paid (invoices/regimes.py) and kept forever. The numbering follows the kind:
    # VAT e-invoice: 12-digit code + 8-digit number + 20-digit check code; fiscal e-bill: 8-digit
    # code + 10-digit number + 6-character check code; 数电: a 20-digit number alone.
    document_kind = models.CharField(
        _("票据种类"), max_length=20, choices=DocumentKind.choices, default=DocumentKind.VAT_E_INVOICE
    )
    code = models.CharField(_("发票代码"), max_length=12, blank=True)
    number = models.CharField(_("发票号码"), max_length=20)
    issued_on = models.DateField(_("开票日期"))
    issued_at = models.DateTimeField(default=timezone.now, verbose_name=_("开具时间"))
    check_code = models.CharField(_("校验码"), max_length=20, blank=True)
    kind = models.CharField(_("类型"), max_length=16, choices=Kind.choices)
    red = models.BooleanField(_("红字发票"), default=False)
    original = models.OneToOneField(
        "self",
        verbose_name=_("原发票"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="reversal",
        db_constraint=False,
    )
    status = models.CharField(_("状态"), max_length=16, choices=Status.choices, default=Status.NORMAL)
    # The month of the trips (or recharges) it bills: on PostgreSQL the table is partitioned by
    # it, one partition a month beside the trips of that month (invoices/partitions.py).
    month = models.CharField(_("所属月份"), max_length=7)
    # seller snapshot
    operator = models.ForeignKey(
        Operator,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="invoices",
        verbose_name=_("销售方（经营单位）"),
    )
    seller_name = models.CharField(_("销售方名称"), max_length=100)
    seller_tax_id = models.CharField(_("销售方纳税人识别号"), max_length=18)
    seller_address_phone = models.CharField(_("销售方地址、电话"), max_length=240, blank=True)
    seller_bank_account = models.CharField(_("销售方开户行及账号"), max_length=160, blank=True)
    machine_no = models.CharField(_("机器编号"), max_length=12, blank=True)
    # buyer snapshot
    buyer_name = models.CharField(_("购买方名称"), max_length=100)
    buyer_tax_id = models.CharField(_("购买方纳税人识别号"), max_length=18, blank=True)  # invoice_buyer_feed
    buyer_address_phone = models.CharField(_("购买方地址、电话"), max_length=240, blank=True)
    buyer_bank_account = models.CharField(_("购买方开户行及账号"), max_length=160, blank=True)
    plate = models.CharField(_("车牌号"), max_length=8)
    total_net = models.BigIntegerField(_("金额合计（分）"))
    total_tax = models.BigIntegerField(_("税额合计（分）"))
    total = models.BigIntegerField(_("价税合计（分）"))
    remarks = models.CharField(_("备注"), max_length=300, blank=True)
    payee = models.CharField(_("收款人"), max_length=32, blank=True)
    reviewer = models.CharField(_("复核"), max_length=32, blank=True)
    drawer = models.CharField(_("开票人"), max_length=32, blank=True)
    # documents
    render_status = models.CharField(
        _("版式文件"), max_length=16, choices=RenderStatus.choices, default=RenderStatus.PENDING
    )
    render_error = models.CharField(_("生成错误"), max_length=300, blank=True)
    render_attempts = models.PositiveSmallIntegerField(default=0, verbose_name=_("生成次数"))
    pdf_path = models.CharField(max_length=200, blank=True, verbose_name=_("PDF 文件"))
    xml_path = models.CharField(max_length=200, blank=True, verbose_name=_("XML 文件"))
    pdf_size = models.PositiveIntegerField(default=0, verbose_name=_("PDF 大小（字节）"))

    class Meta:
        verbose_name = _("发票")
        verbose_name_plural = _("发票")
        constraints = [
            models.CheckConstraint(
                condition=Q(total=models.F("total_net") + models.F("total_tax")), name="invoice_total_adds_up"
            ),
            models.CheckConstraint(
                condition=Q(red=False) | Q(original__isnull=False), name="red_invoice_names_original"
            ),
        ]
        indexes = [
            # (code, number) is unique across all months through InvoiceKey; this index finds an
            # invoice in its partition once the key has named the month.
            models.Index(fields=["code", "number"], name="invoice_code_number"),
            models.Index(fields=["user", "card", "month"], name="invoice_user_card_month"),
            # 我的发票 and the App's list: a user's newest invoices without sorting all of them.
            models.Index(fields=["user", "-issued_at", "-id"], name="invoice_user_recent"),
            models.Index(fields=["buyer_tax_id", "issued_at", "id"], name="invoice_buyer_feed"),
            # Only the invoices whose files are still to be made: small, whatever the table's size.
            models.Index(
                fields=["render_status"], name="invoice_render_pending", condition=~Q(render_status="rendered")
            ),
        ]

    def __str__(self) -> str:
        return self.reference

    @property
    def reference(self) -> str:
        """How a person names this document: code and number, or the number alone (数电)."""
        return f"{self.code} {self.number}" if self.code else self.number

    @property
    def is_fiscal(self) -> bool:
        return self.document_kind == DocumentKind.FISCAL_E_BILL

    @property
    def is_digital(self) -> bool:
        return self.document_kind == DocumentKind.DIGITAL_E_INVOICE


class InvoiceLine(models.Model):
    # Indexed by invoice_line_seq_unique, which starts with the invoice.
    invoice = models.ForeignKey(
        Invoice,
        on_delete=models.PROTECT,
        related_name="lines",
        db_index=False,
        db_constraint=False,  # invoices are partitioned by month on PostgreSQL (docs/scaling.md)
        verbose_name=_("发票"),
    )
    seq = models.PositiveSmallIntegerField(verbose_name=_("序号"))
    item = models.CharField(_("项目名称"), max_length=40)
    plate = models.CharField(_("车牌号"), max_length=8)
    vehicle_class = models.CharField(_("类型"), max_length=16)
    date_from = models.DateField(_("通行日期起"))
    date_to = models.DateField(_("通行日期止"))
    net = models.BigIntegerField(_("金额（分）"))
    rate = models.PositiveSmallIntegerField(_("税率%"), null=True, blank=True)  # None: 不征税
    tax = models.BigIntegerField(_("税额（分）"))
    transit = models.ForeignKey(
        Transit,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="invoice_lines",
        db_constraint=False,
        verbose_name=_("通行记录"),
    )
    recharge = models.ForeignKey(
        Recharge,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="invoice_lines",
        db_index=False,
        verbose_name=_("充值记录"),
    )
    # Its invoice's month, written with it: the partition key of lines on PostgreSQL, so that an
    # invoice's lines are read from its month's partition alone.
    month = models.CharField(_("所属月份"), max_length=7, default="")

    class Meta:
        verbose_name = _("发票明细")
        verbose_name_plural = _("发票明细")
        ordering = ["invoice_id", "seq"]
        constraints = [models.UniqueConstraint(fields=["invoice", "seq"], name="invoice_line_seq_unique")]
        # Most lines are tolls: only the recharge lines enter this index.
        indexes = [models.Index(fields=["recharge"], name="invoice_line_recharge", condition=Q(recharge__isnull=False))]

    def __str__(self) -> str:
        return f"{self.invoice_id}#{self.seq}"


class InvoiceKey(models.Model):
    """Where an invoice lives: its month, by its id and by its code and number. The one global
    key of invoices: a second invoice with the same code and number cannot be written (the
    unique constraint), whatever month either bills; verification and every read by id find the
    month here and read one partition."""

    invoice_id = models.BigIntegerField(_("发票 ID"), primary_key=True)
    code = models.CharField(_("发票代码"), max_length=12, blank=True)
    number = models.CharField(_("发票号码"), max_length=20)
    month = models.CharField(_("所属月份"), max_length=7)

    class Meta:
        verbose_name = _("发票号码索引")
        verbose_name_plural = _("发票号码索引")
        constraints = [models.UniqueConstraint(fields=["code", "number"], name="invoice_key_code_number_unique")]

    def __str__(self) -> str:
        return f"{self.code} {self.number}".strip()


class IssuedCount(models.Model):
    """How many invoices of a group were issued, and the first and last time one was: what the
    lists across months read to choose the months a page can hold (``selectors.choose_months``).
    Issuing adds to it in the transaction of the invoices (``services._count_months``)."""

    count = models.PositiveIntegerField(_("发票张数"), default=0)
    first_issued_at = models.DateTimeField(_("最早开具时间"))
    last_issued_at = models.DateTimeField(_("最近开具时间"))

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return f"{getattr(self, 'month', '')} ×{self.count}"


class InvoiceMonth(IssuedCount):
    """A user's invoices of one card and month, counted, with the first and last time one of
    them was issued: what the lists across months read instead of every month's partition.
    Issuing adds to it in the transaction that writes the invoices (``services._write``), and
    invoices are never deleted, so it is exact. 我的发票's 按卡按月下载 is these rows; the
    newest-first lists choose from them the months a page can hold and read only those months'
    partitions (``selectors.page_months``)."""

    user = models.ForeignKey("accounts.User", on_delete=models.PROTECT, related_name="+", verbose_name=_("用户"))
    card = models.ForeignKey("cards.Card", on_delete=models.PROTECT, related_name="+", verbose_name=_("ETC卡"))
    month = models.CharField(_("所属月份"), max_length=7)

    class Meta:
        verbose_name = _("按卡按月发票汇总")
        verbose_name_plural = _("按卡按月发票汇总")
        constraints = [models.UniqueConstraint(fields=["user", "card", "month"], name="invoice_month_unique")]
        indexes = [models.Index(F("user"), F("month").desc(), name="invoice_month_user_newest")]


class BuyerMonth(IssuedCount):
    """The invoices of one buyer (an enterprise title's taxpayer id) and month, counted, with the
    first and last time one of them was issued: what the enterprise buyer feed reads to choose the
    months its page can hold, instead of every month's partition (``selectors.buyer_feed``).
    Written by issuing beside ``InvoiceMonth``, in the same transaction; invoices are never
    deleted, so it is exact. Personal titles (no taxpayer id) have no row."""

    buyer_tax_id = models.CharField(_("购买方纳税人识别号"), max_length=18)
    month = models.CharField(_("所属月份"), max_length=7)

    class Meta:
        verbose_name = _("按购买方按月发票汇总")
        verbose_name_plural = _("按购买方按月发票汇总")
        constraints = [models.UniqueConstraint(fields=["buyer_tax_id", "month"], name="buyer_month_unique")]


class IssueDay(models.Model):
    """Which months' invoices were issued on a day: a row per (day, month billed), written by
    issuing (insert-only, a conflict does nothing, so no row is ever held by two issuers).
    What a count of the invoices issued in the last days (the console's dashboard) reads to
    name the months it must look in, instead of every month's partition."""

    issued_on = models.DateField(_("开票日期"))
    month = models.CharField(_("所属月份"), max_length=7)

    class Meta:
        verbose_name = _("开票日所含月份")
        verbose_name_plural = _("开票日所含月份")
        constraints = [models.UniqueConstraint(fields=["issued_on", "month"], name="issue_day_unique")]

    def __str__(self) -> str:
        return f"{self.issued_on} {self.month}"


class ApplicationEvent(models.Model):
    """The audit trail of an application: every state change, retry, re-send, with who and why."""

    application = models.ForeignKey(
        Application, on_delete=models.PROTECT, related_name="events", verbose_name=_("开票申请")
    )
    at = models.DateTimeField(default=timezone.now, verbose_name=_("时间"))
    kind = models.CharField(max_length=32, verbose_name=_("事件"))
    actor = models.ForeignKey(
        "accounts.User", on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("操作人")
    )
    reason = models.CharField(max_length=300, blank=True, verbose_name=_("原因"))
    detail = models.JSONField(default=dict, blank=True, verbose_name=_("详情"))

    class Meta:
        verbose_name = _("申请事件")
        verbose_name_plural = _("申请事件")
        ordering = ["application_id", "at", "id"]

    def __str__(self) -> str:
        return f"{self.application_id} {self.kind}"


class VerificationCounter(models.Model):
    """Checks of one invoice on one Asia/Shanghai day through public verification (查验), when
    the cache is not Redis: by everyone (``client`` empty; at most
    ``VERIFY_MAX_CHECKS_PER_INVOICE``) and by one client (a keyed digest of its address, or of
    the owner signed in; at most ``VERIFY_MAX_CHECKS_PER_CLIENT_INVOICE``). Incremented by one
    atomic ``UPDATE … SET count = count + 1 … RETURNING``."""

    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="+", db_constraint=False)
    day = models.DateField()
    client = models.CharField(max_length=64, blank=True, default="")
    count = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("查验次数")
        verbose_name_plural = _("查验次数")
        constraints = [
            models.UniqueConstraint(fields=["invoice", "day", "client"], name="verification_counter_client_unique")
        ]

    def __str__(self) -> str:
        return f"{self.invoice_id} {self.day}: {self.count}"


class MailResend(models.Model):
    """A user's request to mail an issued application's ZIP again, to an address they choose.
    Counted per user and Asia/Shanghai day for the daily limit; a task sends it once."""

    application = models.ForeignKey(Application, on_delete=models.PROTECT, related_name="resends")
    user = models.ForeignKey("accounts.User", on_delete=models.PROTECT, related_name="+")
    email = models.EmailField(_("收件邮箱"))
    requested_at = models.DateTimeField(_("申请时间"), default=timezone.now)
    sent_at = models.DateTimeField(_("发送时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("重发邮件")
        verbose_name_plural = _("重发邮件")
        indexes = [models.Index(fields=["user", "requested_at"], name="mail_resend_user_day")]

    def __str__(self) -> str:
        return f"{self.application_id} {self.requested_at:%Y-%m-%d %H:%M}"


class RedLetterConfirmation(models.Model):
    """A 红字确认 record (红字发票信息确认单): how a 数电 invoice is reversed. It names the
    original (blue) invoice and the amounts taken back; the red-letter invoice is issued against
    it, in the same transaction, and its remarks name both."""

    number = models.CharField(_("确认单编号"), max_length=20, unique=True)
    original = models.OneToOneField(
        Invoice,
        on_delete=models.PROTECT,
        related_name="red_confirmation",
        db_constraint=False,
        verbose_name=_("蓝字发票"),
    )
    application = models.ForeignKey(
        Application, on_delete=models.PROTECT, related_name="red_confirmations", verbose_name=_("开票申请")
    )
    red_invoice = models.OneToOneField(
        Invoice,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="confirmation_of_red",
        db_constraint=False,
        verbose_name=_("红字发票"),
    )
    total_net = models.BigIntegerField(_("冲红金额（分）"))
    total_tax = models.BigIntegerField(_("冲红税额（分）"))
    reason = models.CharField(_("冲红原因"), max_length=300, blank=True)
    confirmed_at = models.DateTimeField(_("确认时间"), default=timezone.now)

    class Meta:
        verbose_name = _("红字确认单")
        verbose_name_plural = _("红字确认单")

    def __str__(self) -> str:
        return self.number
