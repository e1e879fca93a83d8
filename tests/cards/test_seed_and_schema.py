from io import StringIO

import pytest

from accounts import seed as accounts_seed
from cards import seed as cards_seed
from cards.models import Binding, Card, IdType, InvoiceTitle
from cards.services.binding import binding_confirm, binding_start


@pytest.mark.django_db
def test_cards_seed_is_idempotent_and_its_trial_card_binds_by_hand(sms):
    accounts_seed.run(StringIO())
    lines = cards_seed.run(StringIO())
    counts = (Card.objects.count(), Binding.objects.count(), InvoiceTitle.objects.count())
    cards_seed.run(StringIO())
    assert (Card.objects.count(), Binding.objects.count(), InvoiceTitle.objects.count()) == counts

    person, company = accounts_seed.demo_user(), accounts_seed.demo_enterprise_user()
    mine = Binding.objects.filter(user=person, ended_at__isnull=True).select_related("card")
    assert 2 <= mine.count() <= 3 and not any(b.card.is_enterprise for b in mine)
    [company_binding] = Binding.objects.filter(user=company, ended_at__isnull=True).select_related("card")
    assert company_binding.card.is_enterprise and company_binding.card.mobile == company.mobile == "13800000002"
    assert {c.card_type for c in Card.objects.all()} == {"stored_value", "account"}
    assert {c.id_type for c in Card.objects.all()} == {IdType.RESIDENT_ID, IdType.USCC}
    assert Card.objects.values("issuer").distinct().count() >= 4
    assert set(InvoiceTitle.objects.filter(user=person).values_list("kind", flat=True)) == {"personal", "enterprise"}
    text = "\n".join(lines)
    assert "演示" in text and cards_seed.PERSON_ID in text and "61010000000000000001" in text

    attempt = binding_start(
        user=person,
        card_no="61010000000000000001",
        id_type="resident_id",
        id_number=cards_seed.PERSON_ID,
        mobile="13800000001",
    )
    binding = binding_confirm(user=person, binding_id=attempt.public_id, code=sms.last_code("13800000001", "bind"))
    assert binding.card.issuer.province == "陕西"


def test_demo_id_numbers_are_valid():
    from stdnum.cn import ric

    assert ric.is_valid(cards_seed.PERSON_ID) and ric.is_valid(cards_seed.OTHER_PERSON_ID)
    assert cards_seed.PERSON_ID[6:14] == "19900101"


@pytest.mark.django_db
def test_the_openapi_schema_describes_the_cards_endpoints():
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    paths = schema["paths"]
    expected = {
        "/api/v1/app/cards": {"get", "post"},
        "/api/v1/app/cards/confirm": {"post"},
        "/api/v1/app/cards/{card_no}": {"get", "delete"},
        "/api/v1/app/cards/{card_no}/default-title": {"put"},
        "/api/v1/app/titles": {"get", "post"},
        "/api/v1/app/titles/{id}": {"get", "patch", "delete"},
        "/api/v1/partner/cards": {"post"},
    }
    for path, methods in expected.items():
        assert methods <= set(paths[path]), path
    operation_ids = [op["operationId"] for item in paths.values() for op in item.values() if isinstance(op, dict)]
    assert len(operation_ids) == len(set(operation_ids))
    components = schema["components"]["schemas"]
    for name in ("BoundCard", "RegistryResult", "RegistryPushRequest", "BindRefusal", "InvoiceTitle", "CardList"):
        assert name in components, name
    assert "mobile" not in components["BoundCard"]["properties"]
    assert "id_number" not in components["BoundCard"]["properties"]
