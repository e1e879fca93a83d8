"""Demo tickets of the demo user, with replies, a hand-off and a rating, and calls taken by
the demo agent. Made through the services; running it twice adds nothing."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from accounts.models import User, mobile_digest
from accounts.seed import DEMO_USERS, STAFF, demo_user
from cards.models import Binding

from . import services
from .models import Category, Ticket


def _staff(mobile: str) -> User:
    return User.objects.get(mobile_digest=mobile_digest(mobile))


def run(out) -> list[str]:
    user = demo_user()
    agent = _staff(STAFF[0][0])
    supervisor = _staff(STAFF[1][0])
    if Ticket.objects.filter(user=user).exists():
        return ["客服演示数据已存在（工单与来电）。"]
    binding = Binding.objects.filter(user=user).select_related("card__issuer").order_by("bound_at").first()
    card = binding.card if binding else None
    now = timezone.now()

    handed = services.ticket_open(
        user=user,
        channel=Ticket.Channel.HOTLINE,
        category=Category.BINDING,
        subject="（演示）绑第二张卡时提示预留手机号不一致",
        description="（演示）办卡时留的是爱人的手机号，现在想改成自己的号码，请帮忙看看怎么处理。",
        card=card,
        by=agent,
    )
    services.ticket_assign(ticket=handed, assignee=agent, by=agent)
    services.ticket_reply(
        ticket=handed,
        by=agent,
        body="（演示）您好，预留手机号只能由发卡的发行方修改。我们已把您的情况转给发行方，对方会联系您核实身份。",
        notify=False,
    )
    if card is not None:
        services.ticket_hand_off(
            ticket=handed,
            by=agent,
            issuer=card.issuer,
            reference="DEMO-2026-0001",
            note="（演示）已电话转接发行方客服。",
        )
    services.call_log(
        agent=agent,
        caller_number=DEMO_USERS[0][0],
        started_at=now - timedelta(hours=3),
        ended_at=now - timedelta(hours=3) + timedelta(minutes=6, seconds=20),
        category=Category.BINDING,
        summary="（演示）来电咨询绑卡提示预留手机号不一致，已说明需由发行方更新预留信息并转交。",
        ticket=handed,
    )

    waiting = services.ticket_open(
        user=user,
        channel=Ticket.Channel.WEB,
        category=Category.TRIPS,
        subject="（演示）上周的通行记录还查不到",
        description="（演示）上周五从郑州到安阳走了一趟高速，现在还看不到这条记录。",
        card=card,
    )
    services.ticket_note(ticket=waiting, by=agent, body="（演示）通行日期距今不足10个自然日，属正常情况。")
    services.ticket_reply(
        ticket=waiting,
        by=agent,
        body="（演示）通行记录要经过各省清分后才会上传，一般从通行后第10个自然日起可以查到。届时仍查不到请回复我们。",
        notify=False,
    )

    resolved = services.ticket_open(
        user=user,
        channel=Ticket.Channel.APP_CHAT,
        category=Category.INVOICING,
        subject="（演示）为什么一次通行开出了三张发票",
        description="（演示）一次从郑州到安阳的通行，开出来三张发票，是不是重复开票了？",
    )
    services.ticket_resolve(
        ticket=resolved,
        by=supervisor,
        reply="（演示）没有重复：这次通行经过三家经营单位的路段，每家为自己收取的部分各开一张发票，三张合计就是这次的通行费。",
        notify=False,
    )
    services.ticket_rate(ticket=resolved, user=user, rating=5, comment="（演示）解释得很清楚。")

    services.call_log(
        agent=agent,
        caller_number=DEMO_USERS[0][0],
        started_at=now - timedelta(days=1, hours=2),
        ended_at=now - timedelta(days=1, hours=2) + timedelta(minutes=3, seconds=5),
        category=Category.TAX,
        summary="（演示）咨询不征税发票能否抵扣，已说明只有带“通行费”字样的征税发票可以抵扣。",
    )
    return ["客服演示数据：3 个工单（已转交、待用户回复、已解决并评价）和 2 条来电记录。"]
