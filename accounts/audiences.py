"""The API's audiences and one base view each: App users (``/api/v1/app/…``, App tokens) and
partners (``/api/v1/partner/…``, partner tokens, limited to a view's ``partner_kinds``), with
their permissions and throttles. The error mapping they share is the kernel's (piaogen/api.py).
"""

from __future__ import annotations

from django.conf import settings
from django.utils.translation import gettext_lazy
from rest_framework.permissions import BasePermission
from rest_framework.views import APIView

from piaogen.api import read_body
from piaogen.throttling import FixedWindowThrottle

from .authentication import AppTokenAuthentication, PartnerTokenAuthentication
from .models import Partner, User


class IsAppUser(BasePermission):
    def has_permission(self, request, view) -> bool:
        return isinstance(request.user, User)


class PartnerKind(BasePermission):
    """Lets in partners of the view's ``partner_kinds``; other partners get 403."""

    message = gettext_lazy("该合作方类型无权调用此接口。")

    def has_permission(self, request, view) -> bool:
        if not isinstance(request.user, Partner):
            return False  # DRF answers 401 when no authenticator succeeded
        kinds = getattr(view, "partner_kinds", ())
        return not kinds or request.user.kind in kinds


class PartnerBurstThrottle(FixedWindowThrottle):
    """Calls per partner. Like every API throttle here: one atomic counter in Redis (one round
    trip, exact under concurrency), counted in this process while Redis is out."""

    scope = "partner_burst"

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": f"p{request.user.pk}"}


class PartnerSustainedThrottle(PartnerBurstThrottle):
    scope = "partner_sustained"


class AppThrottle(FixedWindowThrottle):
    scope = "app"

    def get_cache_key(self, request, view):
        if isinstance(request.user, User):
            return self.cache_format % {"scope": self.scope, "ident": f"u{request.user.pk}"}
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class AnonAuthThrottle(FixedWindowThrottle):
    """Login, registration and SMS requests per client address."""

    scope = "anon_auth"


class AppAPIView(APIView):
    """Base of ``/api/v1/app/…``: App tokens only; the user is ``request.user``."""

    authentication_classes = [AppTokenAuthentication]
    permission_classes = [IsAppUser]
    throttle_classes = [AppThrottle]


class AppPublicAPIView(APIView):
    """App endpoints before login (SMS codes, register, login)."""

    authentication_classes: list = []
    permission_classes: list = []
    throttle_classes = [AnonAuthThrottle]


class PartnerAPIView(APIView):
    """Base of ``/api/v1/partner/…``: partner tokens only, limited to ``partner_kinds``.

    Bodies up to ``PARTNER_MAX_BODY_BYTES`` (a full batch of 5,000 items needs more than
    Django's 2.5 MiB default), read once the partner is authenticated, allowed and within its
    rate; a larger one is answered 413 naming the limit, before it is read."""

    authentication_classes = [PartnerTokenAuthentication]
    permission_classes = [PartnerKind]
    throttle_classes = [PartnerBurstThrottle, PartnerSustainedThrottle]
    partner_kinds: tuple[str, ...] = ()

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        if request.method in ("POST", "PUT", "PATCH"):
            read_body(request._request, settings.PARTNER_MAX_BODY_BYTES)

    @property
    def partner(self) -> Partner:
        return self.request.user
