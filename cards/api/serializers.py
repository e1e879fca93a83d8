"""Shapes of the cards slice of the API. Serializers type-check and shape; the services judge.

Names are prefixed so that the OpenAPI components stay unique across apps.
"""

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from piaogen.masking import mask_name

from ..models import Binding, Card, CardType, IdType, InvoiceTitle, Issuer, PlateColor, VehicleClass
from ..services.shared import issuer_info

# --- Partner: the card registry ------------------------------------------------------------


class RegistryCardSerializer(serializers.Serializer):
    """One card as an issuer pushes it (documentation; items are validated one by one)."""

    card_no = serializers.CharField(help_text=_("20位卡号，前4位为本发行方的卡片网络编号"))
    card_type = serializers.ChoiceField(choices=CardType.choices)
    plate = serializers.CharField(help_text=_("车牌号，如 京A12345、沪AD12345、粤B12345D"))
    plate_color = serializers.ChoiceField(choices=PlateColor.choices, help_text=_("车牌颜色代码"))
    vehicle_class = serializers.ChoiceField(choices=VehicleClass.choices)
    holder_name = serializers.CharField(max_length=100)
    id_type = serializers.ChoiceField(choices=IdType.choices)
    id_number = serializers.CharField(help_text=_("证件号码；居民身份证与统一社会信用代码校验末位校验码"))
    mobile = serializers.CharField(help_text=_("预留手机号，11位"))
    status = serializers.ChoiceField(choices=Card.Status.choices, default=Card.Status.ACTIVE)


class RegistryPushSerializer(serializers.Serializer):
    cards = RegistryCardSerializer(many=True, help_text=_("至多 5000 张"))


class RegistryRejectionSerializer(serializers.Serializer):
    index = serializers.IntegerField(help_text=_("该项在 cards 数组中的位置，从0开始"))
    id = serializers.CharField(help_text=_("该项的卡号（无法识别时为空）"))
    code = serializers.ChoiceField(
        choices=["invalid", "foreign_network_code", "unknown_network_code", "duplicate_in_batch"]
    )
    errors = serializers.DictField(child=serializers.ListField(child=serializers.CharField()))


class RegistryResultSerializer(serializers.Serializer):
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    unchanged = serializers.IntegerField()
    unbound = serializers.IntegerField(help_text=_("因预留信息变更或注销而自动解绑的卡数"))
    rejected = RegistryRejectionSerializer(many=True)


# --- App: cards and binding ------------------------------------------------------------------


class CardIssuerSerializer(serializers.Serializer):
    name = serializers.CharField()
    province = serializers.CharField()
    hotline = serializers.CharField()
    hotline_label = serializers.CharField(help_text=_("展示用热线，演示数据带“（演示）”"))
    is_demo = serializers.BooleanField()


_BOUND_AT = serializers.DateTimeField()  # the API's time format (local time, ISO 8601)


def bound_cards_json(rows) -> list[dict]:
    """The App's Card (the shape ``BoundCardSerializer`` documents) of each row of
    ``selectors.bound_card_values``: the one builder of that shape, for the list, a card, a
    confirmation and a bulk binding. Plain values in, dicts out; each issuer's block is built
    once however many of its cards. Never the holder's ID number or mobile; the name masked."""
    issuers: dict[int, dict] = {}
    out = []
    for r in rows:
        issuer = issuers.get(r["card__issuer_id"])
        if issuer is None:
            issuer = issuers[r["card__issuer_id"]] = issuer_info(
                Issuer(
                    pk=r["card__issuer_id"],
                    name=r["card__issuer__name"],
                    province=r["card__issuer__province"],
                    hotline=r["card__issuer__hotline"],
                    is_demo=r["card__issuer__is_demo"],
                )
            )
        out.append(
            {
                "card_no": r["card__card_no"],
                "card_type": r["card__card_type"],
                "plate": r["card__plate"],
                "plate_color": r["card__plate_color"],
                "vehicle_class": r["card__vehicle_class"],
                "holder_name_masked": mask_name(r["card__holder_name"]),
                "issuer": issuer,
                "bound_at": _BOUND_AT.to_representation(r["bound_at"]),
                "default_title_id": r["default_title_id"],
            }
        )
    return out


def bound_card_row(binding: Binding) -> dict:
    """A binding already read (with its card and issuer) as a row of ``bound_card_values``."""
    card = binding.card
    issuer = card.issuer
    return {
        "id": binding.pk,
        "bound_at": binding.bound_at,
        "default_title_id": binding.default_title_id,
        "card__card_no": card.card_no,
        "card__card_type": card.card_type,
        "card__plate": card.plate,
        "card__plate_color": card.plate_color,
        "card__vehicle_class": card.vehicle_class,
        "card__holder_name": card.holder_name,
        "card__issuer_id": issuer.pk,
        "card__issuer__name": issuer.name,
        "card__issuer__province": issuer.province,
        "card__issuer__hotline": issuer.hotline,
        "card__issuer__is_demo": issuer.is_demo,
    }


class BoundCardSerializer(serializers.Serializer):
    """A card bound to the account. Never the holder's ID number or mobile. The fields document
    the shape; ``bound_cards_json`` builds it."""

    card_no = serializers.CharField(source="card.card_no")
    card_type = serializers.CharField(source="card.card_type")
    plate = serializers.CharField(source="card.plate")
    plate_color = serializers.IntegerField(source="card.plate_color")
    vehicle_class = serializers.CharField(source="card.vehicle_class")
    holder_name_masked = serializers.SerializerMethodField()
    issuer = serializers.SerializerMethodField()
    bound_at = serializers.DateTimeField()
    default_title_id = serializers.IntegerField(allow_null=True)

    def get_holder_name_masked(self, binding: Binding) -> str:
        return mask_name(binding.card.holder_name)

    @extend_schema_field(CardIssuerSerializer)
    def get_issuer(self, binding: Binding) -> dict:
        return issuer_info(binding.card.issuer)

    def to_representation(self, instance: Binding) -> dict:
        return bound_cards_json([bound_card_row(instance)])[0]


class UnbindingNoticeSerializer(serializers.Serializer):
    card_no = serializers.CharField()
    plate = serializers.CharField()
    ended_at = serializers.DateTimeField()
    end_kind = serializers.ChoiceField(choices=Binding.EndKind.choices)
    reason = serializers.CharField()
    message = serializers.CharField()


class CardListSerializer(serializers.Serializer):
    results = BoundCardSerializer(many=True)
    notices = UnbindingNoticeSerializer(
        many=True, help_text=_("发行方或客服解绑、用户尚未看到的通知；返回后即视为已读")
    )


class BindStartSerializer(serializers.Serializer):
    card_no = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")
    id_type = serializers.CharField(
        max_length=32,
        required=False,
        allow_blank=True,
        default="",
        help_text="resident_id | uscc | passport | other",
    )
    id_number = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")
    mobile = serializers.CharField(
        max_length=32, required=False, allow_blank=True, default="", help_text=_("办卡时在发行方预留的手机号")
    )
    holder_name = serializers.CharField(
        max_length=100,
        required=False,
        allow_blank=True,
        allow_null=True,
        default=None,
        help_text=_(
            "选填：开户人名称（个人卡为持卡人姓名，单位卡为单位全称），与发行方预留的名称比对，全角半角、空格不计；"
            "不一致时以 holder_name_mismatch 拒绝。未填时不比对，除非平台要求填写（此时以 invalid 拒绝）"
        ),
    )


class BindStartedSerializer(serializers.Serializer):
    binding_id = serializers.UUIDField()
    masked_mobile = serializers.CharField(help_text=_("验证码发往的预留手机号（脱敏）"))
    expires_in = serializers.IntegerField(help_text=_("验证码有效秒数"))
    details_checked = serializers.BooleanField(
        help_text=_(
            "true：卡号、证件、开户人名称（如填写）和手机号均已核对一致；false：该卡今日验证失败已达上限，只核对了"
            "预留手机号，证件信息和开户人名称在验证码通过后（cards/confirm）再核对，不一致时以 id_mismatch 或 "
            "holder_name_mismatch 拒绝"
        )
    )


class BindRefusalSerializer(serializers.Serializer):
    code = serializers.ChoiceField(
        choices=[
            "invalid",
            "card_not_found",
            "card_cancelled",
            "id_mismatch",
            "mobile_mismatch",
            "holder_name_mismatch",
            "already_bound",
            "not_enterprise_contact",
            "too_many_attempts",
            # the second step's refusals: the card changed meanwhile, or the SMS code
            "card_changed",
            "code_invalid",
            "code_missing",
            "code_expired",
            "code_locked",
            "code_wrong",
            "malformed",  # the body is not JSON
        ]
    )
    message = serializers.CharField()
    errors = serializers.DictField(child=serializers.ListField(child=serializers.CharField()))
    issuer = CardIssuerSerializer(required=False, help_text=_("原因在发行方时：该卡的发行方与其热线"))


class BindConfirmSerializer(serializers.Serializer):
    binding_id = serializers.CharField(max_length=64)
    code = serializers.CharField(max_length=16)


# --- App: bulk binding (批量绑卡) ------------------------------------------------------------


class BulkStartSerializer(serializers.Serializer):
    card_nos = serializers.ListField(
        child=serializers.CharField(max_length=64, allow_blank=True, trim_whitespace=False),
        allow_empty=True,
        help_text=_("卡号列表，每项一个20位卡号（可含空格分组）；至多 500 张（空项不计）"),
    )


class BulkCardSerializer(serializers.Serializer):
    """An eligible card of a batch: never the holder's ID number or mobile."""

    card_no = serializers.CharField(source="card.card_no")
    card_type = serializers.CharField(source="card.card_type")
    plate = serializers.CharField(source="card.plate")
    plate_color = serializers.IntegerField(source="card.plate_color")
    vehicle_class = serializers.CharField(source="card.vehicle_class")
    issuer = serializers.SerializerMethodField()

    @extend_schema_field(CardIssuerSerializer)
    def get_issuer(self, attempt) -> dict:
        return issuer_info(attempt.card.issuer)


BULK_REFUSAL_CODES = [
    "invalid",
    "duplicate",
    "card_not_found",
    "card_cancelled",
    "id_mismatch",
    "mobile_mismatch",
    "already_bound",
    "too_many_attempts",
    "card_changed",
]


class BulkRefusedLineSerializer(serializers.Serializer):
    line = serializers.IntegerField(
        allow_null=True, help_text=_("该卡号在列表中的位置（从1开始）；确认时才发现的问题为 null")
    )
    card_no = serializers.CharField(help_text=_("卡号（格式有误时为提交的原文）"))
    code = serializers.ChoiceField(
        choices=BULK_REFUSAL_CODES,
        help_text=_(
            "与单张绑卡相同的拒绝代码；duplicate 为列表中重复的卡号；already_bound 也用于已绑定在本账户的卡（不计入失败次数）"
        ),
    )
    message = serializers.CharField()
    issuer = CardIssuerSerializer(allow_null=True, help_text=_("原因在发行方时：该卡的发行方与其热线"))


class BulkStartedSerializer(serializers.Serializer):
    bulk_id = serializers.UUIDField()
    masked_mobile = serializers.CharField(help_text=_("验证码发往的单位联系人手机号（脱敏）"))
    expires_in = serializers.IntegerField(help_text=_("验证码有效秒数"))
    message = serializers.CharField()
    eligible = BulkCardSerializer(many=True, help_text=_("信息一致、验证码通过后将一次绑定的卡"))
    refused = BulkRefusedLineSerializer(many=True, help_text=_("不能绑定的卡及原因，按列表顺序"))


class BulkRefusalSerializer(serializers.Serializer):
    code = serializers.ChoiceField(
        choices=[
            "invalid",
            "not_enterprise_contact",
            "too_many_items",
            "too_many_attempts",
            "nothing_to_bind",
            "card_changed",
            "card_cancelled",
            "already_bound",
            "code_invalid",
            "code_missing",
            "code_expired",
            "code_locked",
            "code_wrong",
            "malformed",
        ]
    )
    message = serializers.CharField()
    errors = serializers.DictField(child=serializers.ListField(child=serializers.CharField()))
    bulk_id = serializers.UUIDField(required=False, help_text=_("nothing_to_bind 时：已记录的批次编号"))
    refused = BulkRefusedLineSerializer(
        many=True,
        required=False,
        help_text=_("nothing_to_bind：每张卡的原因；确认时被拒（card_changed 等）：发生变化的卡，本批均未绑定"),
    )


class BulkConfirmSerializer(serializers.Serializer):
    bulk_id = serializers.CharField(max_length=64)
    code = serializers.CharField(max_length=16)


class BulkBoundSerializer(serializers.Serializer):
    bulk_id = serializers.UUIDField()
    results = BoundCardSerializer(many=True, help_text=_("本批绑定的卡"))


class DefaultTitleSerializer(serializers.Serializer):
    title_id = serializers.IntegerField(
        allow_null=True, min_value=1, max_value=2**63 - 1, help_text=_("null 表示取消默认抬头")
    )


# --- App: invoice titles ----------------------------------------------------------------------


@extend_schema_field(
    {
        "oneOf": [{"type": "string", "format": "email"}, {"type": "string", "maxLength": 0}],
        "description": "收票邮箱；未填写时为空字符串",
    }
)
class EmailOrBlankField(serializers.CharField):
    """An e-mail address, or "" when none was given: what the answers hold, said so in the
    schema (a bare ``format: email`` would call every blank answer a violation)."""


class InvoiceTitleSerializer(serializers.ModelSerializer):
    email = EmailOrBlankField(read_only=True)

    class Meta:
        model = InvoiceTitle
        fields = ["id", "kind", "name", "tax_id", "address", "phone", "bank", "bank_account", "email"]
        read_only_fields = fields


class InvoiceTitleInputSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=InvoiceTitle.Kind.choices)
    name = serializers.CharField(max_length=100)
    tax_id = serializers.CharField(max_length=32, required=False, allow_blank=True)
    address = serializers.CharField(max_length=200, required=False, allow_blank=True)
    phone = serializers.CharField(max_length=32, required=False, allow_blank=True)
    bank = serializers.CharField(max_length=100, required=False, allow_blank=True)
    bank_account = serializers.CharField(max_length=40, required=False, allow_blank=True)
    email = serializers.CharField(max_length=254, required=False, allow_blank=True)
