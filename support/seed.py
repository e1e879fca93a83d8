"""Demo data of the contact centre: tickets in every state, calls in every relation to a ticket,
and the demo users' message centre.

Everything is made through the services, as staff and users make it: tickets new, taken,
waiting for the user, handed off to an issuer, resolved and rated, closed, reopened by the
user, overdue (so the dashboard shows a breach) and resolved late; calls linked to a ticket,
linked to an account only, turned into a ticket, and from an unknown number. The only liberty
taken is time: some tickets are moved back a few days (``_backdate``) so that the dashboard's
days, the SLA breaches and the on-time rate have something to show.

Messages: staff replies write theirs; each issued application of the demo users has its own
(written by the issuing hook, or here for a database seeded before the message centre); one
application fails and one demo card is unbound by its issuer's push, through the services.

Every text written here says （演示）. Each scenario is made once, keyed by its subject or
summary: running it twice adds nothing, and a database seeded by an older version gets the
scenarios it lacks.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from django.db.models import F
from django.utils import timezone

from accounts.models import User, mobile_digest
from accounts.seed import DEMO_USERS, STAFF, demo_enterprise_user, demo_user
from cards.models import Binding, BindingAttempt, Card, CardType
from cards.seed import OTHER_PERSON_ID, PERSON, PERSON_ID, PERSONAL_MOBILE
from cards.services.binding import binding_start
from cards.services.cap_lift import binding_cap_lift
from cards.services.registry import card_registry_upsert
from invoices import services as invoice_services
from invoices.models import Application, Transit
from piaogen.errors import ServiceError

from . import notifications, services
from .models import Call, Category, Notification, Ticket, TicketMessage

# A card of the demo user that its issuer unbinds (the reserved mobile changes): the message
# centre's demo of a passive unbinding. Jiangsu's issuer, whose hotline (96777) is confirmed.
UNBOUND_CARD = "32010000000000000009"
UNBOUND_PLATE = "苏E66778"
UNBOUND_NEW_MOBILE = "13800000007"
FAILED_REASON = "（演示）购买方名称与税号不一致，请核对发票抬头后重新申请。"
UNKNOWN_CALLER = "01087654321"


def _staff(mobile: str) -> User:
    return User.objects.get(mobile_digest=mobile_digest(mobile))


def _backdate(ticket: Ticket, delta: timedelta) -> None:
    """Moves a ticket, its messages and its notices back in time by ``delta``."""
    shift = {
        name: F(name) - delta
        for name in ("created_at", "updated_at", "due_at", "handed_off_at", "rated_at", "resolved_at", "closed_at")
    }
    Ticket.objects.filter(pk=ticket.pk).update(**shift)
    TicketMessage.objects.filter(ticket=ticket).update(created_at=F("created_at") - delta)
    Notification.objects.filter(ticket=ticket).update(created_at=F("created_at") - delta)


class Scenarios:
    def __init__(self):
        self.person = demo_user()
        self.company = demo_enterprise_user()
        self.agent = _staff(STAFF[0][0])
        self.supervisor = _staff(STAFF[1][0])
        self.now = timezone.now()
        binding = Binding.objects.filter(user=self.person).select_related("card__issuer").order_by("bound_at").first()
        self.card = binding.card if binding else None
        self.made: list[str] = []

    def ticket(self, subject: str, make: Callable[[str], None], label: str) -> None:
        """Runs ``make(subject)`` unless a ticket of that subject exists."""
        if not Ticket.objects.filter(subject_masked=subject).exists():
            make(subject)
            self.made.append(label)

    def call(self, summary: str, make: Callable[[str], None], label: str) -> None:
        if not Call.objects.filter(summary_masked=summary).exists():
            make(summary)
            self.made.append(label)

    def open(self, subject: str, *, user=None, staff: bool = False, **fields) -> Ticket:
        return services.ticket_open(
            user=user or self.person,
            subject=subject,
            by=self.agent if staff else None,
            **fields,
        )

    # --- tickets, one per state and then some -------------------------------------------

    def handed_off(self, subject: str) -> None:
        ticket = self.open(
            subject,
            staff=True,
            channel=Ticket.Channel.HOTLINE,
            category=Category.BINDING,
            description="（演示）办卡时留的是爱人的手机号，现在想改成自己的号码，请帮忙看看怎么处理。",
            card=self.card,
        )
        services.ticket_assign(ticket=ticket, assignee=self.agent, by=self.agent)
        services.ticket_reply(
            ticket=ticket,
            by=self.agent,
            body="（演示）您好，预留手机号只能由发卡的发行方修改。我们已把您的情况转给发行方，对方会联系您核实身份。",
            notify=False,
        )
        if self.card is not None:
            services.ticket_hand_off(
                ticket=ticket,
                by=self.agent,
                issuer=self.card.issuer,
                reference="DEMO-2026-0001",
                note="（演示）已电话转接发行方客服。",
            )
        services.call_log(
            agent=self.agent,
            caller_number=DEMO_USERS[0][0],
            started_at=self.now - timedelta(hours=3),
            ended_at=self.now - timedelta(hours=3) + timedelta(minutes=6, seconds=20),
            category=Category.BINDING,
            summary="（演示）来电咨询绑卡提示预留手机号不一致，已说明需由发行方更新预留信息并转交。",
            ticket=ticket,
        )

    def waiting(self, subject: str) -> None:
        ticket = self.open(
            subject,
            channel=Ticket.Channel.WEB,
            category=Category.TRIPS,
            description="（演示）上周五从郑州到安阳走了一趟高速，现在还看不到这条记录。",
            card=self.card,
        )
        services.ticket_note(ticket=ticket, by=self.agent, body="（演示）通行日期距今不足10个自然日，属正常情况。")
        services.ticket_reply(
            ticket=ticket,
            by=self.agent,
            body="（演示）通行记录要经过各省清分后才会上传，一般从通行后第10个自然日起可以查到。届时仍查不到请回复我们。",
            notify=False,
        )
        _backdate(ticket, timedelta(days=1))

    def resolved_and_rated(self, subject: str) -> None:
        ticket = self.open(
            subject,
            channel=Ticket.Channel.APP_CHAT,
            category=Category.INVOICING,
            description="（演示）一次从郑州到安阳的通行，开出来三张发票，是不是重复开票了？",
        )
        services.ticket_resolve(
            ticket=ticket,
            by=self.supervisor,
            reply="（演示）没有重复：这次通行经过三家经营单位的路段，每家为自己收取的部分各开一张发票，三张合计就是这次的通行费。",
            notify=False,
        )
        services.ticket_rate(ticket=ticket, user=self.person, rating=5, comment="（演示）解释得很清楚。")
        _backdate(ticket, timedelta(days=1))

    def new(self, subject: str) -> None:
        self.open(
            subject,
            channel=Ticket.Channel.WEB,
            category=Category.DELIVERY,
            description="（演示）申请开票时填了邮箱，但一直没收到发票邮件，垃圾邮件里也没有。",
        )

    def taken(self, subject: str) -> None:
        ticket = self.open(
            subject,
            user=self.company,
            channel=Ticket.Channel.APP_CHAT,
            category=Category.TITLE,
            description="（演示）上个月的发票抬头里开户行写错了，能不能改？",
        )
        services.ticket_assign(ticket=ticket, assignee=self.agent, by=self.agent)
        services.ticket_note(ticket=ticket, by=self.agent, body="（演示）开户行不影响抵扣，先确认用户是否仍要换票。")
        _backdate(ticket, timedelta(hours=5))

    def closed(self, subject: str) -> None:
        ticket = self.open(
            subject,
            user=self.company,
            channel=Ticket.Channel.WEB,
            category=Category.TAX,
            description="（演示）我们是一般纳税人，高速通行费发票能抵扣多少进项税？",
        )
        services.ticket_resolve(
            ticket=ticket,
            by=self.agent,
            reply="（演示）带“通行费”字样的征税发票按票面税额抵扣（3%、5%或9%）；不征税发票不能抵扣。",
            notify=False,
        )
        services.ticket_rate(ticket=ticket, user=self.company, rating=4, comment="（演示）清楚，谢谢。")
        services.ticket_close(ticket=ticket, by=self.agent)
        _backdate(ticket, timedelta(days=6))

    def reopened(self, subject: str) -> None:
        ticket = self.open(
            subject,
            channel=Ticket.Channel.WEB,
            category=Category.TITLE,
            description="（演示）换票以后，原来的发票在查验页面还显示正常。",
        )
        _backdate(ticket, timedelta(days=3))
        services.ticket_resolve(
            ticket=ticket,
            by=self.agent,
            reply="（演示）换票会先红冲原发票，红冲完成后查验结果会显示“已红冲”，请稍后再查。",
            notify=False,
        )
        # Reopened today: a new time limit runs from now.
        services.ticket_reopen(ticket=ticket, by=self.person, reason="（演示）过了一天再查，仍显示正常。")

    def overdue(self, subject: str) -> None:
        ticket = self.open(
            subject,
            staff=True,
            channel=Ticket.Channel.HOTLINE,
            category=Category.BINDING,
            priority=Ticket.Priority.HIGH,
            description="（演示）ETC卡已在发行方注销，为什么票根上还显示绑定？",
            card=self.card,
        )
        services.ticket_assign(ticket=ticket, assignee=self.agent, by=self.agent)
        # Three days old at a 12-hour time limit: overdue, shown on the dashboard and the queue.
        _backdate(ticket, timedelta(days=3))

    def resolved_late(self, subject: str) -> None:
        ticket = self.open(
            subject,
            user=self.company,
            channel=Ticket.Channel.WEB,
            category=Category.ACCOUNT,
            description="（演示）公司换了联系人手机号，原来的账户登录不了。",
        )
        _backdate(ticket, timedelta(days=4))
        services.ticket_resolve(
            ticket=ticket,
            by=self.supervisor,
            reply="（演示）请用原手机号找回密码；原手机号已停用的，请让发行方先更新单位卡的联系人手机号。",
            notify=False,
        )

    # --- calls ------------------------------------------------------------------------------

    def call_without_ticket(self, summary: str) -> None:
        services.call_log(
            agent=self.agent,
            caller_number=DEMO_USERS[0][0],
            started_at=self.now - timedelta(days=1, hours=2),
            ended_at=self.now - timedelta(days=1, hours=2) + timedelta(minutes=3, seconds=5),
            category=Category.TAX,
            summary=summary,
        )

    def call_to_ticket(self, summary: str) -> None:
        call = services.call_log(
            agent=self.agent,
            caller_number=DEMO_USERS[1][0],
            started_at=self.now - timedelta(hours=26),
            ended_at=self.now - timedelta(hours=26) + timedelta(minutes=8, seconds=41),
            category=Category.INVOICING,
            summary=summary,
        )
        services.call_to_ticket(call=call, by=self.agent, priority=Ticket.Priority.HIGH)

    def call_from_unknown_number(self, summary: str) -> None:
        services.call_log(
            agent=self.agent,
            caller_number=UNKNOWN_CALLER,
            started_at=self.now - timedelta(hours=7),
            ended_at=self.now - timedelta(hours=7) + timedelta(minutes=2, seconds=12),
            category=Category.ACCOUNT,
            summary=summary,
        )

    # --- the telephone switch (demo calls as the switch reports them) -----------------------

    def switch_calls(self) -> None:
        """The demo agent sits at extension 8001 and the supervisor at 8002. Calls as the switch
        reports them (support.cti): one answered and wrapped up, one the demo user abandoned in
        the binding queue (on the callback list), one missed from an unknown number."""
        from . import cti
        from .models import AgentExtension

        for staff, extension in ((self.agent, "8001"), (self.supervisor, "8002")):
            if (
                not AgentExtension.objects.filter(staff=staff).exists()
                and not AgentExtension.objects.filter(extension=extension).exists()
            ):
                AgentExtension.objects.create(staff=staff, extension=extension)
        if Call.objects.filter(switch_call_id__startswith="DEMO-").exists():
            return
        start = self.now - timedelta(hours=3)
        cti.switch_event(
            event=cti.NEW_CALL, call_id="DEMO-1", at=start, caller=PERSONAL_MOBILE, called="95022", queue="binding"
        )
        cti.switch_event(event=cti.ANSWER, call_id="DEMO-1", at=start + timedelta(seconds=18), extension="8001")
        result = cti.switch_event(
            event=cti.HANGUP, call_id="DEMO-1", at=start + timedelta(minutes=4, seconds=5), cause="normalClearing"
        )
        services.call_wrap_up(
            call=result.call,
            by=self.agent,
            category=Category.BINDING,
            summary="（演示）交换机来电：询问绑卡短信验证码收不到，已说明重发间隔。",
        )
        start = self.now - timedelta(hours=1)
        cti.switch_event(
            event=cti.NEW_CALL, call_id="DEMO-2", at=start, caller=PERSONAL_MOBILE, called="95022", queue="binding"
        )
        cti.switch_event(event=cti.HANGUP, call_id="DEMO-2", at=start + timedelta(seconds=74), cause="cancel")
        cti.switch_event(
            event=cti.NEW_CALL, call_id="DEMO-3", at=start, caller=UNKNOWN_CALLER, called="95022", queue="frontline"
        )
        cti.switch_event(event=cti.HANGUP, call_id="DEMO-3", at=start + timedelta(seconds=40), cause="noAnswer")
        self.made.append("交换机来电（已接听、放弃、未接）")

    # --- failed bindings (the dashboard's chart by issuer) ----------------------------------

    def binding_failures(self) -> None:
        """Refused binding attempts of the demo users, through the binding service, moved back
        a day or more so that they count against no cap of today."""
        Outcome = BindingAttempt.Outcome
        tries = [
            # user, card, ID number, mobile, days back, the refusal expected
            (self.person, "61010000000000000001", PERSON_ID, "13800000006", 1, Outcome.MOBILE_MISMATCH),
            (self.person, "61010000000000000001", OTHER_PERSON_ID, PERSONAL_MOBILE, 2, Outcome.ID_MISMATCH),
            (self.person, "52010000000000000001", PERSON_ID, PERSONAL_MOBILE, 3, Outcome.CARD_CANCELLED),
            (self.person, "11010000000000009999", PERSON_ID, PERSONAL_MOBILE, 4, Outcome.CARD_NOT_FOUND),
            (self.company, "11010000000000000001", PERSON_ID, PERSONAL_MOBILE, 5, Outcome.ALREADY_BOUND),
        ]
        for user, card_no, id_number, mobile, days, outcome in tries:
            if BindingAttempt.objects.filter(user=user, card_no=card_no, outcome=outcome).exists():
                continue
            try:
                binding_start(user=user, card_no=card_no, id_type="resident_id", id_number=id_number, mobile=mobile)
            except ServiceError:
                pass
            BindingAttempt.objects.filter(user=user, card_no=card_no, created_at__gte=self.now).update(
                created_at=F("created_at") - timedelta(days=days)
            )
            self.made.append(f"绑卡失败（{outcome.label}）")

    def cap_lifted(self) -> None:
        """Yesterday the demo user typed card numbers no issuer holds until the day's cap
        stopped them, and the supervisor lifted it (the message centre has the message). Made
        through the services, then moved back a day so that no cap of today is spent."""
        from django.conf import settings

        from cards.models import BindingCapLift

        if BindingCapLift.objects.filter(user=self.person).exists():
            return
        for n in range(settings.BINDING_MAX_FAILURES_PER_ACCOUNT):
            try:
                binding_start(
                    user=self.person,
                    card_no=f"110100000000000099{n + 50:02d}",
                    id_type="resident_id",
                    id_number=PERSON_ID,
                    mobile=PERSONAL_MOBILE,
                )
            except ServiceError:
                pass
        try:
            lift = binding_cap_lift(
                staff=self.supervisor, user=self.person, reason="（演示）来电核实为本人，卡号抄错已核对"
            )
        except ServiceError:
            return
        day = timedelta(days=1)
        BindingAttempt.objects.filter(user=self.person, created_at__gte=self.now).update(
            created_at=F("created_at") - day
        )
        BindingCapLift.objects.filter(pk=lift.pk).update(created_at=F("created_at") - day)
        Notification.objects.filter(user=self.person, kind=Notification.Kind.CAP_LIFTED).update(
            created_at=F("created_at") - day
        )
        self.made.append("班长解除绑卡失败上限")

    # --- the message centre -----------------------------------------------------------------

    def issued_notices(self) -> None:
        """Each issued application of the demo users has its message; all but the latest read."""
        issued = Application.objects.filter(
            user__in=[self.person, self.company], status=Application.Status.ISSUED
        ).order_by("issued_at", "pk")
        for app in issued:
            notifications.notify_application_issued(app.pk, [])
        older = Notification.objects.filter(
            user=self.person, kind=Notification.Kind.INVOICES_ISSUED, read_at__isnull=True
        ).order_by("-created_at", "-pk")[1:]
        for notice in older:
            notifications.notification_mark_read(user=self.person, notification_id=notice.pk)

    def failed_application(self) -> None:
        """One application of the demo user fails (its trips are released again)."""
        if Application.objects.filter(user=self.person, failure_reason=FAILED_REASON).exists():
            return
        binding = (
            Binding.objects.filter(user=self.person, ended_at__isnull=True, card__card_type=CardType.ACCOUNT)
            .select_related("card", "default_title")
            .first()
        )
        if binding is None or binding.default_title is None:
            return
        trip = Transit.objects.filter(card=binding.card, state="open").order_by("-exit_time").first()
        if trip is None:
            return
        try:
            app = invoice_services.application_submit_consumption(
                user=self.person,
                card_no=binding.card.card_no,
                month=timezone.localtime(trip.exit_time).strftime("%Y-%m"),
                title_id=binding.default_title_id,
                transit_ids=[trip.transit_id],
            )
        except ServiceError:
            return
        invoice_services.application_fail(application_id=app.pk, reason=FAILED_REASON)
        self.made.append("开票失败的申请")

    def unbound_card(self) -> None:
        """The issuer changes the reserved mobile of a bound demo card: passive unbinding."""
        if Card.objects.filter(card_no=UNBOUND_CARD).exists():
            return
        item = {
            "card_no": UNBOUND_CARD,
            "card_type": "account",
            "plate": UNBOUND_PLATE,
            "plate_color": 0,
            "vehicle_class": "passenger",
            "holder_name": PERSON,
            "id_type": "resident_id",
            "id_number": PERSON_ID,
            "mobile": PERSONAL_MOBILE,
            "status": "active",
        }
        card_registry_upsert(partner=None, items=[item])
        # Bound directly, as the cards demo does, as if the SMS code had come back.
        Binding.objects.create(user=self.person, card=Card.objects.get(card_no=UNBOUND_CARD))
        card_registry_upsert(partner=None, items=[item | {"mobile": UNBOUND_NEW_MOBILE}])
        self.made.append("发行方变更预留手机号自动解绑")


def run(out) -> list[str]:
    s = Scenarios()
    s.ticket("（演示）绑第二张卡时提示预留手机号不一致", s.handed_off, "已转交")
    s.ticket("（演示）上周的通行记录还查不到", s.waiting, "待用户回复")
    s.ticket("（演示）为什么一次通行开出了三张发票", s.resolved_and_rated, "已解决并评价")
    s.ticket("（演示）发票邮件一直没收到", s.new, "新建")
    s.ticket("（演示）单位抬头的开户行写错了", s.taken, "处理中")
    s.ticket("（演示）通行费发票能抵扣多少进项税", s.closed, "已关闭并评价")
    s.ticket("（演示）换票后原发票查验仍显示正常", s.reopened, "用户重开")
    s.ticket("（演示）卡已注销但仍显示绑定", s.overdue, "已超时")
    s.ticket("（演示）换了联系人手机号登录不了", s.resolved_late, "超时后解决")
    s.call(
        "（演示）咨询不征税发票能否抵扣，已说明只有带“通行费”字样的征税发票可以抵扣。",
        s.call_without_ticket,
        "来电（未建工单）",
    )
    s.call(
        "（演示）来电询问按月汇总的发票为什么按经营单位分开开具\n已说明每家经营单位各开一张，需回电确认是否换票。",
        s.call_to_ticket,
        "来电转工单",
    )
    s.call(
        "（演示）未注册用户来电咨询注册时收不到验证码，已告知60秒后可重发、每日有次数上限。",
        s.call_from_unknown_number,
        "未关联账户的来电",
    )
    s.switch_calls()
    s.binding_failures()
    s.cap_lifted()
    s.unbound_card()
    s.failed_application()
    s.issued_notices()
    if not s.made:
        return ["客服演示数据已存在（工单、来电与站内消息）。"]
    return [
        f"客服演示数据（演示）：{'、'.join(s.made)}；"
        f"工单 {Ticket.objects.count()} 个、来电 {Call.objects.count()} 条、站内消息 {Notification.objects.count()} 条"
    ]
