"""The language of a page, a mail or a message.

zh-hans is the site's language. English is shown only to someone who chose it: the footer's
switch (``set_language``) stores the choice in the language cookie and, for a signed-in user, on
their account (``User.language``), so that what reaches them later, away from any request (the
mail that carries their invoices, their message centre), speaks it too. The browser's
Accept-Language is not consulted: a phone set to English must not turn a Chinese tax service into
a half-translated one the user never asked for. The APIs answer in zh-hans whatever the client
sends: their ``message`` fields are part of the partners' and the App's contract (docs).
"""

from __future__ import annotations

from contextlib import AbstractContextManager

from django.conf import settings
from django.contrib.auth import get_user_model
from django.http import HttpRequest, HttpResponse
from django.utils import translation
from django.utils.cache import patch_vary_headers
from django.views import i18n as django_i18n
from django.views.decorators.http import require_POST

API_PREFIX = "/api/"


def supported(code: str | None) -> str | None:
    """The language of ``LANGUAGES`` that ``code`` names, or None."""
    if not code:
        return None
    try:
        return translation.get_supported_language_variant(code)
    except LookupError:
        return None


def language_of(user) -> str:
    """The language a user chose (the site's when none, or for no user)."""
    return supported(getattr(user, "language", "") or "") or settings.LANGUAGE_CODE


def speaking(user) -> AbstractContextManager:
    """``with speaking(user):`` composes texts in the user's language."""
    return translation.override(language_of(user))


def remember(user, language: str) -> None:
    """Keeps a signed-in user's choice on their account (one UPDATE, only when it changed)."""
    if user is not None and user.is_authenticated and hasattr(user, "language") and user.language != language:
        get_user_model().objects.filter(pk=user.pk).update(language=language)
        user.language = language


def languages_of(user_ids) -> dict[int, str]:
    """The languages of several users, in one query: ``{user_id: language}``; users who never
    chose one are left out (they read the site's)."""
    ids = {pk for pk in user_ids if pk}
    if not ids:
        return {}
    rows = get_user_model().objects.filter(pk__in=ids).exclude(language="").values_list("pk", "language")
    return {pk: supported(language) or settings.LANGUAGE_CODE for pk, language in rows}


def speaking_to(user_id) -> AbstractContextManager:
    """``with speaking_to(user_id):`` composes a text for a user known by id (one query)."""
    return translation.override(languages_of([user_id]).get(user_id, settings.LANGUAGE_CODE))


def request_language(request: HttpRequest) -> str:
    if request.path_info.startswith(API_PREFIX):
        return settings.LANGUAGE_CODE
    user = getattr(request, "user", None)
    chosen = supported(request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME))
    if chosen:
        # Chosen before signing in (or on another device): the account follows what is read.
        remember(user, chosen)
        return chosen
    if user is not None and user.is_authenticated:
        return language_of(user)
    return settings.LANGUAGE_CODE


class LanguageMiddleware:
    """Activates the chosen language (cookie, then the signed-in user's stored choice), else
    zh-hans; in place of Django's LocaleMiddleware, which would follow Accept-Language."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        language = request_language(request)
        request.LANGUAGE_CODE = language
        # Restored afterwards: a thread that served an English page must not go on in English
        # (the next request, a test, a task run eagerly).
        with translation.override(language):
            response = self.get_response(request)
        response.headers.setdefault("Content-Language", language)
        if not request.path_info.startswith(API_PREFIX):
            patch_vary_headers(response, ("Cookie",))
        return response


@require_POST
def set_language(request: HttpRequest) -> HttpResponse:
    """Django's ``set_language`` (cookie, safe redirect), and the choice kept on the account of
    a signed-in user."""
    response = django_i18n.set_language(request)
    language = supported(request.POST.get("language"))
    if language:
        remember(getattr(request, "user", None), language)
    return response
