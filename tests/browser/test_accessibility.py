"""Every page a user sees passes axe-core (no serious or critical violation) and, on the phone,
fits the screen without scrolling sideways."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest
from playwright.sync_api import expect

from .conftest import SHANGHAI, log_in, previous_month

pytestmark = pytest.mark.browser

ANONYMOUS = {
    "home": "/",
    "register": "/accounts/register/",
    "login": "/accounts/login/",
    "reset": "/accounts/password-reset/",
    "help": "/help/",
    "verify": "/verify/",
}


@pytest.fixture(scope="package")
def reader(world):
    """A user with something on every page: a stored-value card with a recharge, an issued
    application, a month of trips still open, a ticket. Made once through the partner and App
    APIs; the pages are only read, on both viewports."""
    person = world.issued_person(card_type="stored_value")
    recharged = datetime.now(SHANGHAI) - timedelta(hours=1)
    world.push_recharge(person, amount=20000, at=recharged)
    person.extra["recharge_month"] = f"{recharged:%Y-%m}"
    application_id = person.extra["application_id"]
    person.extra["invoice_id"] = world.app("GET", f"applications/{application_id}", person=person)["invoices"][0]["id"]
    person.extra["open_month"] = previous_month(previous_month())
    world.push_trips(person, month=person.extra["open_month"])  # so that 我要开票 shows its form
    ticket = world.app(
        "POST",
        "tickets",
        {"category": "invoicing", "subject": "发票抬头能改吗", "description": "开错了抬头，想换成单位抬头。"},
        person=person,
        expect=201,
    )
    person.extra["ticket_id"] = ticket["id"]
    return person


def test_every_user_page(open_page, reader, journey):
    person = reader
    application_id, invoice_id = person.extra["application_id"], person.extra["invoice_id"]
    earlier, ticket_id = person.extra["open_month"], person.extra["ticket_id"]
    page = open_page()
    for label, url in ANONYMOUS.items():
        response = page.goto(url)
        assert response.status == 200, (url, response.status)
        journey.user_page(page, f"anonymous-{label}")
        if label == "help":
            faq = page.get_by_role("main").locator("a[href*='/help/faq/']").first.get_attribute("href")
    assert re.fullmatch(r"/help/faq/\d+/", faq), faq
    page.goto(faq)
    journey.user_page(page, "anonymous-faq-answer")

    log_in(page, person)
    signed_in = {
        "home": "/",
        "profile": "/accounts/me/",
        "cards": "/cards/",
        "bind": "/cards/bind/",
        "titles": "/cards/titles/",
        "title-new": "/cards/titles/new/",
        "trips": f"/trips/?month={previous_month():%Y-%m}",
        "recharges": f"/trips/recharges/?month={person.extra['recharge_month']}",
        "apply": f"/apply/?month={earlier:%Y-%m}",
        "application": f"/applications/{application_id}/",
        "invoices": "/invoices/",
        "invoice": f"/invoices/{invoice_id}/",
        "help": "/help/",
        "faq-answer": faq,
        "tickets": "/help/tickets/",
        "ticket-new": "/help/tickets/new/",
        "ticket": f"/help/tickets/{ticket_id}/",
        "diagnose": "/help/diagnose/",
        "messages": "/messages/",
        "verify": "/verify/",
    }
    for label, url in signed_in.items():
        response = page.goto(url)
        assert response.status == 200, (url, response.status)
        journey.user_page(page, label)
        if label == "apply":
            expect(page.locator("#apply-form")).to_be_visible()
        if label == "recharges":
            expect(page.get_by_role("main").locator("table")).to_contain_text("¥200.00")
