"""``{{ text|stored_text }}``: a sentence the platform stored in zh-hans (an application's
failure reason, a binding's end reason), shown in the reader's language when the catalogue holds
it; a sentence with figures filled in, or typed by a person, shows as stored."""

from django import template
from django.utils.translation import gettext

register = template.Library()


@register.filter
def stored_text(value) -> str:
    return gettext(str(value)) if value else ""
