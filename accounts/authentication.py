"""Bearer-token authentication for the two API audiences.

App tokens open ``/api/v1/app/…`` only and partner tokens ``/api/v1/partner/…`` only: each
audience's base view installs just its own class, so the other kind of token is simply
unknown there (401).
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header

from piaogen.crypto import token_digest

from .models import AppToken, PartnerToken

# last_used_at is written at most this often per token, not on every call.
TOUCH_EVERY = timedelta(minutes=5)


def _bearer(request) -> str | None:
    header = get_authorization_header(request).split()
    if not header or header[0].lower() != b"bearer":
        return None
    if len(header) != 2:
        raise exceptions.AuthenticationFailed(_("Authorization 头格式应为：Bearer <令牌>。"))
    try:
        return header[1].decode("ascii")
    except UnicodeDecodeError:
        raise exceptions.AuthenticationFailed(_("令牌无效。")) from None


def _touch(model, token) -> None:
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > TOUCH_EVERY:
        model.objects.filter(pk=token.pk).update(last_used_at=now)


def _live_token(model, owner: str, raw: str, refusal: str):
    """The unrevoked token of ``raw`` whose ``owner`` (its user or partner) is active, with the
    owner read in the same query; AuthenticationFailed with ``refusal`` otherwise."""
    token = (
        model.objects.select_related(owner)
        .filter(digest=token_digest(raw), revoked_at__isnull=True, **{f"{owner}__is_active": True})
        .first()
    )
    if token is None:
        raise exceptions.AuthenticationFailed(refusal)
    return token


class AppTokenAuthentication(BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        raw = _bearer(request)
        if raw is None:
            return None
        token = _live_token(AppToken, "user", raw, _("令牌无效或已失效，请重新登录。"))
        idle = timedelta(days=settings.APP_TOKEN_IDLE_DAYS)
        now = timezone.now()
        if now - (token.last_used_at or token.created_at) > idle:
            AppToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=now)
            raise exceptions.AuthenticationFailed(
                _("令牌已 %(days)s 天未使用，已失效，请重新登录。") % {"days": settings.APP_TOKEN_IDLE_DAYS}
            )
        _touch(AppToken, token)
        return token.user, token

    def authenticate_header(self, request) -> str:
        return 'Bearer realm="app"'


class PartnerTokenAuthentication(BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        raw = _bearer(request)
        if raw is None:
            return None
        token = _live_token(PartnerToken, "partner", raw, _("合作方令牌无效或已失效。"))
        _touch(PartnerToken, token)
        return token.partner, token

    def authenticate_header(self, request) -> str:
        return 'Bearer realm="partner"'


class AppTokenScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.authentication.AppTokenAuthentication"
    name = "AppToken"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "description": "App 登录令牌（POST /api/v1/app/login）"}


class PartnerTokenScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.authentication.PartnerTokenAuthentication"
    name = "PartnerToken"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "description": "合作方令牌（manage.py partner_create）"}
