"""Filters of the console's pages: masked names, and links that exist only when the page does."""

from django import template
from django.urls import NoReverseMatch, reverse

from piaogen.masking import mask_name, mask_text

register = template.Library()


@register.filter
def masked_name(value) -> str:
    return mask_name(value)


@register.simple_tag
def admin_change_url(obj) -> str:
    """The console page of ``obj``, or "" when its model has none (not registered yet)."""
    try:
        return reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[obj.pk])
    except NoReverseMatch:
        return ""


@register.simple_tag(takes_context=True)
def console_workspace(context):
    """The signed-in staff member's workspace (``selectors.workspace``), or None for a role
    that handles no tickets."""
    from support import selectors

    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.has_perm("support.change_ticket"):
        return None
    return selectors.workspace(user)


@register.simple_tag
def customer_search_label() -> str:
    from support.forms import CustomerSearchForm

    return CustomerSearchForm.base_fields["q"].label


@register.filter
def masked(value) -> str:
    """Free text a person typed, with every personal number masked (``mask_text``)."""
    return mask_text(str(value or ""))


@register.filter
def masked_email(value) -> str:
    """An e-mail address the customer gave, masked as the console shows it everywhere."""
    from invoices.documents.mail import mask_email

    return mask_email(str(value)) if value else ""
