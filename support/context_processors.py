"""What every page of the site tells a signed-in customer.

``notices``: that staff replied to a ticket. The notice goes through the messages framework,
which every page of the site already shows (``base.html``); it repeats on each page until the
customer opens the ticket, which marks the reply as read.

``unread_notifications``: the unread count of the message centre for the badge in the site's
header, and the one-time announcement of a card unbound by its issuer or by staff (the
message centre's ``Notification``, ``notifications.binding_notices_take``): both in one query
per page. Context processors run only when a page is rendered (never for static files or API
calls); on the console's pages the count is queried lazily, once, when the template shows it.
"""

from __future__ import annotations

from django.contrib import messages
from django.urls import reverse
from django.utils.functional import cached_property
from django.utils.html import format_html
from django.utils.translation import gettext as _

from cards.services.unbinding import notice_text

from . import notifications, selectors
from .models import Ticket


def notices(request) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or user.is_staff or getattr(request, "_support_noticed", False):
        return {}
    request._support_noticed = True
    if request.path.startswith((reverse("support:tickets"), reverse("admin:index"))):
        return {}  # the ticket pages show unread replies themselves; the console is for staff
    unseen = selectors.unseen_replies(user)
    if len(unseen) == 1:
        messages.info(
            request,
            format_html(
                _('您的工单 {ref} 有新的客服回复。<a href="{url}">查看回复</a>'),
                ref=Ticket(pk=unseen[0]).ref,
                url=reverse("support:ticket", kwargs={"pk": unseen[0]}),
            ),
        )
    elif unseen:
        messages.info(
            request,
            format_html(
                _('您有 {n} 个工单有新的客服回复。<a href="{url}">查看我的工单</a>'),
                n=len(unseen),
                url=reverse("support:tickets"),
            ),
        )
    return {}


class UnreadNotifications:
    """The message centre's badge: ``count`` (one query, the first time it is read, unless the
    page's glance already counted) and ``label`` as shown ("99+" past the cap)."""

    def __init__(self, user, count: int | None = None):
        self._user = user
        if count is not None:
            self.__dict__["count"] = count  # the cached_property, already known

    @cached_property
    def count(self) -> int:
        return selectors.unread_notification_count(self._user)

    @property
    def label(self) -> str:
        return f"{selectors.UNREAD_CAP - 1}+" if self.count >= selectors.UNREAD_CAP else str(self.count)


def unread_notifications(request) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    if request.path.startswith((reverse("admin:index"), "/api/")):
        return {"notifications_unread": UnreadNotifications(user)}  # no announcement on these
    count = getattr(request, "_notifications_unread", None)
    if count is None:
        count, due = selectors.message_centre_glance(user)
        request._notifications_unread = count
        for binding in notifications.binding_notices_take(user, due):
            messages.warning(request, notice_text(binding))
    return {"notifications_unread": UnreadNotifications(user, count)}
