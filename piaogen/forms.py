"""Helpers that turn a service refusal into form errors on a page."""

from django import forms

from .errors import ServiceError


def add_service_error(form: forms.Form, exc: ServiceError) -> None:
    placed = False
    for field, messages in exc.errors.items():
        if field in form.fields:
            for message in messages:
                form.add_error(field, message)
            placed = True
    # The sentence of the refusal always shows: it says what to do next.
    if not placed or exc.message not in sum(exc.errors.values(), []):
        form.add_error(None, exc.message)
