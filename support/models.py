"""The contact centre: FAQ, tickets with their messages, hotline calls, SLA policies.

Tickets and calls are never deleted and never reached by CASCADE from users or staff; every
change staff make to them is recorded (django-simple-history). A caller's number is stored
encrypted with a keyed digest beside it (the same digest as ``accounts.User.mobile_digest``,
so a call from a registered mobile finds its account) and a masked copy for lists.

Free text people type (a ticket's subject, every message, a call's summary) is stored as written,
encrypted at rest; the console shows it through ``mask_text`` (the subject and the summary keep a
masked copy for lists and search), and only roles with ``support.reveal`` open the original, each
time leaving a ``Reveal`` row.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from encrypted_fields.fields import EncryptedCharField, EncryptedTextField
from simple_history.models import HistoricalRecords

from accounts.models import User
from piaogen.masking import mask_text


class Category(models.TextChoices):
    """What a question is about: FAQ categories and ticket categories are the same list."""

    ACCOUNT = "account", _("注册与登录")
    BINDING = "binding", _("绑卡与解绑")
    TRIPS = "trips", _("通行记录")
    INVOICING = "invoicing", _("开票")
    TAX = "tax", _("税率与抵扣")
    TITLE = "title", _("抬头、换票与红冲")
    DELIVERY = "delivery", _("查验、下载与邮寄")
    OTHER = "other", _("其他")


class Queue(models.TextChoices):
    """The agent groups a ticket waits in."""

    FRONTLINE = "frontline", _("一线坐席")
    BINDING = "binding", _("绑卡专席")
    INVOICING = "invoicing", _("开票专席")
    ESCALATION = "escalation", _("升级处理")


# Which queue a new ticket of each category joins.
CATEGORY_QUEUE = {
    Category.ACCOUNT: Queue.FRONTLINE,
    Category.BINDING: Queue.BINDING,
    Category.TRIPS: Queue.INVOICING,
    Category.INVOICING: Queue.INVOICING,
    Category.TAX: Queue.INVOICING,
    Category.TITLE: Queue.INVOICING,
    Category.DELIVERY: Queue.INVOICING,
    Category.OTHER: Queue.FRONTLINE,
}

# Hours to resolve a ticket of normal priority, when no SlaPolicy row says otherwise.
DEFAULT_SLA_HOURS = {
    Category.ACCOUNT: 24,
    Category.BINDING: 24,
    Category.TRIPS: 48,
    Category.INVOICING: 24,
    Category.TAX: 48,
    Category.TITLE: 24,
    Category.DELIVERY: 24,
    Category.OTHER: 72,
}


class FaqCategory(models.Model):
    code = models.CharField(_("代码"), max_length=16, choices=Category.choices, unique=True)
    name = models.CharField(_("名称"), max_length=32)
    description = models.CharField(_("说明"), max_length=200, blank=True)
    ordering = models.PositiveSmallIntegerField(_("排序"), default=0)

    history = HistoricalRecords()

    class Meta:
        verbose_name = _("常见问题分类")
        verbose_name_plural = _("常见问题分类")
        ordering = ["ordering", "id"]

    def __str__(self) -> str:
        return self.name


class Faq(models.Model):
    """A question and its answer, written for this product.

    ``answer`` may hold ``{days}`` (TRANSIT_AVAILABLE_AFTER_DAYS) and ``{hotline}`` (the
    platform's hotline), filled in when shown. ``extra`` adds live data under the answer:
    the issuers' hotlines from the Issuer table, or today's trip-availability dates.
    """

    class Extra(models.TextChoices):
        NONE = "", _("无")
        ISSUER_HOTLINES = "issuer_hotlines", _("各省发行方客服热线")
        TRANSIT_DATES = "transit_dates", _("通行记录可查日期")

    category = models.ForeignKey(FaqCategory, verbose_name=_("分类"), on_delete=models.PROTECT, related_name="faqs")
    question = models.CharField(_("问题"), max_length=120)
    answer = models.TextField(_("解答"))
    link_url_name = models.CharField(
        _("办理页面（URL 名称）"), max_length=64, blank=True, help_text=_("如 cards:list；页面不存在时不显示链接")
    )
    link_label = models.CharField(_("办理页面文字"), max_length=32, blank=True)
    keywords = models.CharField(_("关键词"), max_length=200, blank=True, help_text=_("用空格分隔，用户常用的说法"))
    extra = models.CharField(_("附加信息"), max_length=32, choices=Extra.choices, blank=True)
    ordering = models.PositiveSmallIntegerField(_("排序"), default=0)
    published = models.BooleanField(_("已发布"), default=True)
    # Word-segmented text (jieba) for search, each token wrapped in spaces: " 绑卡 手机号 ".
    question_tokens = models.TextField(editable=False, default="")
    answer_tokens = models.TextField(editable=False, default="")
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    history = HistoricalRecords(excluded_fields=["question_tokens", "answer_tokens"])

    class Meta:
        verbose_name = _("常见问题")
        verbose_name_plural = _("常见问题")
        ordering = ["category__ordering", "ordering", "id"]

    def __str__(self) -> str:
        return self.question

    def save(self, *args, **kwargs):
        from .search import index_fields

        self.question_tokens, self.answer_tokens = index_fields(self.question, self.keywords, self.answer)
        if kwargs.get("update_fields") is not None:
            kwargs["update_fields"] = {*kwargs["update_fields"], "question_tokens", "answer_tokens"}
        super().save(*args, **kwargs)


class SlaPolicy(models.Model):
    """Hours to resolve a ticket of a category at normal priority; priority scales it."""

    PRIORITY_FACTOR = {"urgent": 0.25, "high": 0.5, "normal": 1.0, "low": 2.0}

    category = models.CharField(_("分类"), max_length=16, choices=Category.choices, unique=True)
    hours = models.PositiveIntegerField(_("解决时限（小时）"))

    history = HistoricalRecords()

    class Meta:
        verbose_name = _("服务时限（SLA）")
        verbose_name_plural = _("服务时限（SLA）")
        ordering = ["category"]

    def __str__(self) -> str:
        return f"{self.get_category_display()} {self.hours}h"

    @classmethod
    def due_at(cls, *, category: str, priority: str, start) -> timezone.datetime:
        row = cls.objects.filter(category=category).values_list("hours", flat=True).first()
        hours = row if row is not None else DEFAULT_SLA_HOURS.get(category, 72)
        return start + timedelta(hours=hours * cls.PRIORITY_FACTOR.get(priority, 1.0))


class Ticket(models.Model):
    class Channel(models.TextChoices):
        HOTLINE = "hotline", _("热线电话")
        APP_CHAT = "app_chat", _("App 在线客服")
        WEB = "web", _("网站")

    class Status(models.TextChoices):
        NEW = "new", _("新建")
        OPEN = "open", _("处理中")
        WAITING_CUSTOMER = "waiting_customer", _("待用户回复")
        HANDED_OFF = "handed_off", _("已转交")
        RESOLVED = "resolved", _("已解决")
        CLOSED = "closed", _("已关闭")

    ACTIVE = (Status.NEW, Status.OPEN, Status.WAITING_CUSTOMER, Status.HANDED_OFF)
    DONE = (Status.RESOLVED, Status.CLOSED)

    class Priority(models.TextChoices):
        LOW = "low", _("低")
        NORMAL = "normal", _("普通")
        HIGH = "high", _("高")
        URGENT = "urgent", _("紧急")

    class HandoffParty(models.TextChoices):
        ISSUER = "issuer", _("发行方")
        OPERATOR = "operator", _("路段经营单位")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("用户"), on_delete=models.PROTECT, related_name="tickets"
    )
    channel = models.CharField(_("渠道"), max_length=16, choices=Channel.choices)
    category = models.CharField(_("分类"), max_length=16, choices=Category.choices)
    subject = EncryptedCharField(_("主题"), max_length=120)
    subject_masked = models.CharField(_("主题"), max_length=120, editable=False, default="")
    status = models.CharField(_("状态"), max_length=20, choices=Status.choices, default=Status.NEW, db_index=True)
    priority = models.CharField(_("优先级"), max_length=8, choices=Priority.choices, default=Priority.NORMAL)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("处理人"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="assigned_tickets",
        limit_choices_to={"is_staff": True},
    )
    group = models.CharField(_("队列"), max_length=16, choices=Queue.choices, default=Queue.FRONTLINE)
    due_at = models.DateTimeField(_("应解决时间"))
    card = models.ForeignKey(
        "cards.Card", verbose_name=_("相关ETC卡"), on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    transit = models.ForeignKey(
        "invoices.Transit",
        verbose_name=_("相关通行记录"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_constraint=False,  # trips are partitioned by month on PostgreSQL (docs/scaling.md)
    )
    invoice = models.ForeignKey(
        "invoices.Invoice",
        verbose_name=_("相关发票"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_constraint=False,  # invoices are partitioned by month on PostgreSQL (docs/scaling.md)
    )
    application = models.ForeignKey(
        "invoices.Application",
        verbose_name=_("相关开票申请"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    handoff_party = models.CharField(_("转交对象类型"), max_length=16, choices=HandoffParty.choices, blank=True)
    handoff_to = models.CharField(_("转交对象"), max_length=100, blank=True)
    handoff_issuer = models.ForeignKey(
        "cards.Issuer", verbose_name=_("转交发行方"), on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    handoff_operator = models.ForeignKey(
        "invoices.Operator",
        verbose_name=_("转交经营单位"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    handoff_reference = models.CharField(_("对方受理编号"), max_length=64, blank=True)
    handed_off_at = models.DateTimeField(_("转交时间"), null=True, blank=True)
    rating = models.PositiveSmallIntegerField(_("评分"), null=True, blank=True)
    rating_comment = models.CharField(_("评价"), max_length=300, blank=True)
    rated_at = models.DateTimeField(_("评价时间"), null=True, blank=True)
    reopened_count = models.PositiveSmallIntegerField(_("重开次数"), default=0)
    created_at = models.DateTimeField(_("创建时间"), default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(_("更新时间"), default=timezone.now)
    resolved_at = models.DateTimeField(_("解决时间"), null=True, blank=True)
    closed_at = models.DateTimeField(_("关闭时间"), null=True, blank=True)

    history = HistoricalRecords()

    class Meta:
        verbose_name = _("工单")
        verbose_name_plural = _("工单")
        permissions = [
            ("assign", _("可指派工单给他人")),
            ("reopen", _("可重开已解决或已关闭的工单")),
            ("reveal", _("可查看工单和来电的原文（个人信息不遮盖）")),
        ]
        indexes = [
            models.Index(fields=["user", "-created_at"], name="ticket_user_recent"),
            models.Index(fields=["status", "due_at"], name="ticket_queue_due"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(rating__isnull=True) | Q(rating__gte=1, rating__lte=5), name="ticket_rating_1_to_5"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.ref} {self.subject_masked}"

    def save(self, *args, **kwargs):
        self.subject_masked = mask_text(self.subject)[:120]
        if kwargs.get("update_fields") is not None and "subject" in kwargs["update_fields"]:
            kwargs["update_fields"] = {*kwargs["update_fields"], "subject_masked"}
        super().save(*args, **kwargs)

    @property
    def ref(self) -> str:
        return f"T{self.pk:08d}" if self.pk else "T—"

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE

    @property
    def is_overdue(self) -> bool:
        if self.status in self.DONE:
            return bool(self.resolved_at and self.resolved_at > self.due_at)
        return timezone.now() > self.due_at


class TicketMessage(models.Model):
    class Kind(models.TextChoices):
        CUSTOMER = "customer", _("用户留言")
        PUBLIC_REPLY = "public_reply", _("客服回复")
        INTERNAL_NOTE = "internal_note", _("内部备注")

    PUBLIC = (Kind.CUSTOMER, Kind.PUBLIC_REPLY)

    ticket = models.ForeignKey(Ticket, on_delete=models.PROTECT, related_name="messages", verbose_name=_("工单"))
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("作者"), on_delete=models.PROTECT, related_name="+"
    )
    kind = models.CharField(_("类型"), max_length=16, choices=Kind.choices)
    body = EncryptedTextField(_("内容"))
    created_at = models.DateTimeField(_("时间"), default=timezone.now)
    # A reply is told to the customer (in-site notice) until they read it.
    seen_by_customer_at = models.DateTimeField(_("用户已读"), null=True, blank=True)

    class Meta:
        verbose_name = _("工单消息")
        verbose_name_plural = _("工单消息")
        ordering = ["ticket_id", "created_at", "id"]
        indexes = [models.Index(fields=["ticket", "kind", "seen_by_customer_at"], name="message_unseen")]

    def __str__(self) -> str:
        return f"{self.ticket_id} {self.get_kind_display()}"


class Call(models.Model):
    """A hotline call: logged by an agent in the console, or by itself from the telephone
    switch's events (``support.cti``), or a callback an agent made to a missed call.

    ``caller_number`` is always the customer's end of the line (who rang in, or whom the
    centre rang); ``line`` is the centre's (the hotline dialled). A call the switch reported
    keeps ``switch_call_id``; its times fill in as the events arrive, in any order:
    ``started_at`` when it rang, ``answered_at``, ``ended_at``; ``wait_seconds`` is the time
    from ringing to answer (or to hang-up, unanswered), ``handle_seconds`` from answer to end.
    """

    class Source(models.TextChoices):
        CONSOLE = "console", _("坐席记录")
        SWITCH = "switch", _("交换机")
        CALLBACK = "callback", _("回拨")

    class Direction(models.TextChoices):
        INBOUND = "in", _("呼入")
        OUTBOUND = "out", _("呼出")

    class Outcome(models.TextChoices):
        RINGING = "ringing", _("排队振铃中")
        TALKING = "talking", _("通话中")
        ANSWERED = "answered", _("已接听")
        MISSED = "missed", _("未接")
        ABANDONED = "abandoned", _("放弃")

    UNANSWERED = (Outcome.MISSED, Outcome.ABANDONED)
    FINISHED = (Outcome.ANSWERED, Outcome.MISSED, Outcome.ABANDONED)

    # Encrypted fields store an empty value as NULL: a hidden number, a summary not yet written.
    caller_number = EncryptedCharField(_("来电号码"), max_length=20, blank=True, null=True)
    caller_digest = models.CharField(
        max_length=64, db_index=True, editable=False, blank=True, verbose_name=_("来电号码摘要")
    )
    caller_masked = models.CharField(_("来电号码"), max_length=20, editable=False, blank=True)
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("坐席"),
        on_delete=models.PROTECT,
        related_name="+",
        null=True,
        blank=True,
    )
    started_at = models.DateTimeField(_("开始时间"), db_index=True)
    answered_at = models.DateTimeField(_("接听时间"), null=True, blank=True)
    ended_at = models.DateTimeField(_("结束时间"), null=True, blank=True)
    category = models.CharField(_("分类"), max_length=16, choices=Category.choices, blank=True)
    summary = EncryptedTextField(_("通话摘要"), blank=True, null=True)
    summary_masked = models.TextField(_("通话摘要"), editable=False, default="")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("关联账户"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="support_calls",
    )
    ticket = models.ForeignKey(
        Ticket, verbose_name=_("关联工单"), on_delete=models.PROTECT, null=True, blank=True, related_name="calls"
    )
    source = models.CharField(_("来源"), max_length=12, choices=Source.choices, default=Source.CONSOLE)
    direction = models.CharField(_("方向"), max_length=3, choices=Direction.choices, default=Direction.INBOUND)
    outcome = models.CharField(_("结果"), max_length=12, choices=Outcome.choices, default=Outcome.ANSWERED)
    switch_call_id = models.CharField(_("交换机呼叫编号"), max_length=64, null=True, blank=True, unique=True)
    line = models.CharField(_("热线号码"), max_length=20, blank=True)
    queue = models.CharField(_("队列"), max_length=32, blank=True)
    extension = models.CharField(_("分机"), max_length=16, blank=True)
    hangup_cause = models.CharField(_("挂断原因"), max_length=24, blank=True)
    # Which of the switch's events arrived (newCall 1, answer 2, hangup 4): each applies once.
    switch_events = models.PositiveSmallIntegerField(_("已收到的交换机事件"), default=0, editable=False)
    wait_seconds = models.PositiveIntegerField(_("等待（秒）"), null=True, blank=True)
    handle_seconds = models.PositiveIntegerField(_("通话（秒）"), null=True, blank=True)
    wrapped_at = models.DateTimeField(_("小结时间"), null=True, blank=True)
    callback_of = models.ForeignKey(
        "self",
        verbose_name=_("回拨的来电"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="callbacks",
    )
    called_back_at = models.DateTimeField(_("已回拨接通"), null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, verbose_name=_("记录时间"))

    history = HistoricalRecords(excluded_fields=["caller_number"])

    class Meta:
        verbose_name = _("来电记录")
        verbose_name_plural = _("来电记录")
        permissions = [("callback", _("可回拨未接来电（回拨时显示完整号码）"))]
        indexes = [
            models.Index(fields=["user", "-started_at"], name="call_user_recent"),
            models.Index(fields=["agent", "wrapped_at"], name="call_agent_open"),
            models.Index(fields=["outcome", "called_back_at", "started_at"], name="call_callback_list"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(ended_at__isnull=True) | Q(ended_at__gte=models.F("started_at")),
                name="call_ends_after_start",
            )
        ]

    def __str__(self) -> str:
        return f"{self.caller_masked or _('未显示号码')} {timezone.localtime(self.started_at):%Y-%m-%d %H:%M}"

    def save(self, *args, **kwargs):
        self.summary_masked = mask_text(self.summary or "")
        if kwargs.get("update_fields") is not None and "summary" in kwargs["update_fields"]:
            kwargs["update_fields"] = {*kwargs["update_fields"], "summary_masked"}
        super().save(*args, **kwargs)

    @property
    def duration_seconds(self) -> int:
        if self.handle_seconds is not None:
            return self.handle_seconds
        if self.ended_at is None:
            return 0
        return int((self.ended_at - self.started_at).total_seconds())

    @property
    def caller_label(self) -> str:
        return self.caller_masked or str(_("未显示号码"))

    def settle(self) -> None:
        """Outcome and durations from the times known so far (events may come in any order)."""
        if self.answered_at is not None:
            self.outcome = self.Outcome.ANSWERED if self.ended_at is not None else self.Outcome.TALKING
            self.wait_seconds = max(0, int((self.answered_at - self.started_at).total_seconds()))
            self.handle_seconds = (
                max(0, int((self.ended_at - self.answered_at).total_seconds())) if self.ended_at else None
            )
        elif self.ended_at is not None:
            abandoned = self.hangup_cause in ("cancel", "abandon", "abandoned")
            self.outcome = self.Outcome.ABANDONED if abandoned else self.Outcome.MISSED
            self.wait_seconds = max(0, int((self.ended_at - self.started_at).total_seconds()))
            self.handle_seconds = None
        else:
            self.outcome = self.Outcome.RINGING
            self.wait_seconds = self.handle_seconds = None


class AgentExtension(models.Model):
    """Which staff member sits at which extension of the switch: an ``answer`` event that names
    the extension finds the agent here."""

    staff = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("坐席"),
        on_delete=models.PROTECT,
        related_name="switch_extension",
        limit_choices_to={"is_staff": True},
    )
    extension = models.CharField(_("分机"), max_length=16, unique=True)

    history = HistoricalRecords()

    class Meta:
        verbose_name = _("坐席分机")
        verbose_name_plural = _("坐席分机")
        ordering = ["extension"]

    def __str__(self) -> str:
        return self.extension


class SwitchToken(models.Model):
    """A bearer token of the telephone switch: it opens ``/api/v1/cti/…`` and nothing else.
    Only its SHA-256 digest is stored (``manage.py cti_token``)."""

    name = models.CharField(_("名称"), max_length=64)
    digest = models.CharField(max_length=64, unique=True, verbose_name=_("令牌摘要"))
    prefix = models.CharField(max_length=8, verbose_name=_("令牌前缀"))
    created_at = models.DateTimeField(default=timezone.now, verbose_name=_("创建时间"))
    last_used_at = models.DateTimeField(null=True, blank=True, verbose_name=_("最近使用"))
    revoked_at = models.DateTimeField(null=True, blank=True, verbose_name=_("吊销时间"))

    class Meta:
        verbose_name = _("交换机令牌")
        verbose_name_plural = _("交换机令牌")

    def __str__(self) -> str:
        return f"{self.name} {self.prefix}…"


class Notification(models.Model):
    """A message of the user's message centre (消息中心): what the platform told them, kept until
    they read it. Written by the events that concern the user: a card unbound by its issuer or by
    staff, an application issued or failed, a staff reply to a ticket (``support.notifications``).

    Texts never hold a full mobile or ID number; ``link`` is a path of the site.
    """

    class Kind(models.TextChoices):
        BINDING_ENDED = "binding_ended", _("ETC卡解绑")
        INVOICES_ISSUED = "invoices_issued", _("发票已开具")
        APPLICATION_FAILED = "application_failed", _("开票失败")
        TICKET_REPLY = "ticket_reply", _("工单回复")
        CAP_LIFTED = "cap_lifted", _("绑卡限制已解除")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("用户"), on_delete=models.CASCADE, related_name="notifications"
    )
    kind = models.CharField(_("类型"), max_length=24, choices=Kind.choices)
    title = models.CharField(_("标题"), max_length=100)
    body = models.CharField(_("内容"), max_length=500)
    link = models.CharField(_("链接"), max_length=200, blank=True)
    # What the message is about; each unique where an event is told once.
    binding = models.ForeignKey(
        "cards.Binding",
        verbose_name=_("绑定关系"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    application = models.ForeignKey(
        "invoices.Application",
        verbose_name=_("开票申请"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    ticket = models.ForeignKey(
        Ticket,
        verbose_name=_("工单"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    created_at = models.DateTimeField(_("时间"), default=timezone.now)
    read_at = models.DateTimeField(_("已读时间"), null=True, blank=True)
    # An unbinding is also announced once, on the user's next page or in the App's cards answer,
    # whichever comes first (``notifications.binding_notices_take``); the message itself stays
    # unread here until the user reads it.
    shown_at = models.DateTimeField(_("已提示时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("站内消息")
        verbose_name_plural = _("站内消息")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["user", "read_at", "-created_at"], name="notification_user_unread"),
            # The unbindings not announced yet: a handful of rows at most.
            models.Index(
                fields=["user"],
                condition=Q(kind="binding_ended", shown_at__isnull=True),
                name="notification_notice_due",
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["binding"], condition=Q(kind="binding_ended"), name="notification_binding_once"
            ),
            models.UniqueConstraint(
                fields=["application"], condition=Q(kind="invoices_issued"), name="notification_issued_once"
            ),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def is_read(self) -> bool:
        return self.read_at is not None


class Reveal(models.Model):
    """A staff member opened the original of a masked text: who, when, which text, why."""

    class Text(models.TextChoices):
        TICKET_SUBJECT = "ticket_subject", _("工单主题")
        TICKET_MESSAGE = "ticket_message", _("工单消息")
        CALL_SUMMARY = "call_summary", _("通话摘要")
        CALLER_NUMBER = "caller_number", _("完整来电号码（回拨）")

    staff = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("查看人"), on_delete=models.PROTECT, related_name="+"
    )
    text = models.CharField(_("查看内容"), max_length=16, choices=Text.choices)
    object_id = models.PositiveBigIntegerField(_("对象编号"))
    ticket = models.ForeignKey(
        Ticket, verbose_name=_("工单"), on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    call = models.ForeignKey(
        Call, verbose_name=_("来电记录"), on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    reason = models.CharField(_("查看原因"), max_length=100)
    created_at = models.DateTimeField(_("查看时间"), default=timezone.now, db_index=True)

    class Meta:
        verbose_name = _("原文查看记录")
        verbose_name_plural = _("原文查看记录")
        ordering = ["-created_at", "-id"]
        default_permissions = ("view",)
        indexes = [models.Index(fields=["staff", "-created_at"], name="reveal_staff_recent")]

    def __str__(self) -> str:
        return f"{self.get_text_display()} {self.object_id}"


# --- Console pages without tables of their own -------------------------------------------


class Report(Ticket):
    """Holds the permission to see the contact centre's reports (``support.view_report``)."""

    class Meta:
        proxy = True
        default_permissions = ("view",)
        verbose_name = _("客服报表")
        verbose_name_plural = _("客服报表")


class Dashboard(Ticket):
    """The console's dashboard at /admin/support/dashboard/ (needs ``support.view_report``)."""

    class Meta:
        proxy = True
        default_permissions = ()
        verbose_name = _("数据看板")
        verbose_name_plural = _("数据看板")


class StaffAudit(User):
    """我的操作记录 at /admin/support/staffaudit/: every staff member reads the audit entries of
    their own actions; ``view_team_audit`` (supervisors) adds the agents' (``support.audit``)."""

    class Meta:
        proxy = True
        default_permissions = ()
        permissions = [("view_team_audit", _("可查看本组坐席的操作记录"))]
        verbose_name = _("我的操作记录")
        verbose_name_plural = _("我的操作记录")


class Callback(Call):
    """The callback list at /admin/support/callback/: missed and abandoned calls nobody has
    called back yet (needs ``support.callback``)."""

    class Meta:
        proxy = True
        default_permissions = ()
        verbose_name = _("待回拨来电")
        verbose_name_plural = _("待回拨来电")


class Customer(User):
    """The customer view at /admin/support/customer/ (needs ``accounts.view_user``)."""

    class Meta:
        proxy = True
        default_permissions = ()
        verbose_name = _("客户视图")
        verbose_name_plural = _("客户视图")
