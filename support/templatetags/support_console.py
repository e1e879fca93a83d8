"""Filters of the console's pages: masked names, and links that exist only when the page does."""

from django import template
from django.urls import NoReverseMatch, reverse

from piaogen.masking import mask_name

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
