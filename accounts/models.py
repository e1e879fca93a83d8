"""Users (identity = mobile), SMS codes, App tokens, partners and their tokens.

A user's mobile is stored encrypted; a keyed digest beside it is the unique login key, and
a masked copy serves lists and searches. Nobody reads the full number from a table dump.
"""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from encrypted_fields.fields import EncryptedCharField, EncryptedTextField
from simple_history.models import HistoricalRecords

from piaogen.crypto import lookup_digest
from piaogen.masking import mask_mobile

from .identity import normalize_mobile


def mobile_digest(mobile: str) -> str:
    return lookup_digest(normalize_mobile(mobile), purpose="mobile")


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def get_by_natural_key(self, username: str) -> User:
        # Login forms hand over the mobile; serialisation hands over the digest itself.
        if len(username or "") == 64:
            return self.get(mobile_digest=username)
        return self.get(mobile_digest=mobile_digest(username))

    def create_user(self, mobile: str | None = None, password: str | None = None, **extra) -> User:
        mobile = normalize_mobile(mobile or extra.pop("mobile_digest", ""))
        if not mobile:
            raise ValueError("A user needs a mobile number.")
        user = self.model(**extra)
        user.set_mobile(mobile)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, mobile: str | None = None, password: str | None = None, **extra) -> User:
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        return self.create_user(mobile, password, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    class AccountType(models.TextChoices):
        PERSONAL = "personal", _("个人")
        ENTERPRISE = "enterprise", _("单位")

    mobile = EncryptedCharField(_("手机号"), max_length=11)
    mobile_digest = models.CharField(_("手机号"), max_length=64, unique=True, editable=False)
    mobile_masked = models.CharField(_("手机号（脱敏）"), max_length=11, db_index=True, editable=False)
    account_type = models.CharField(
        _("账户类型"), max_length=16, choices=AccountType.choices, default=AccountType.PERSONAL
    )
    name = models.CharField(_("姓名/单位名称"), max_length=100, blank=True)
    tax_id = models.CharField(_("统一社会信用代码"), max_length=18, blank=True, db_index=True)
    is_staff = models.BooleanField(_("员工"), default=False)
    is_active = models.BooleanField(_("有效"), default=True)
    date_joined = models.DateTimeField(_("注册时间"), default=timezone.now)
    # The language chosen with the footer's switch ("" = the site's, zh-hans): mails and the
    # message centre speak it (piaogen/i18n.py).
    language = models.CharField(_("语言"), max_length=16, blank=True, default="")

    history = HistoricalRecords(excluded_fields=["password", "last_login", "language"])

    objects = UserManager()

    USERNAME_FIELD = "mobile_digest"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        verbose_name = _("用户")
        verbose_name_plural = _("用户")
        constraints = [
            models.CheckConstraint(
                condition=Q(account_type="personal") | (~Q(tax_id="") & ~Q(name="")),
                name="enterprise_has_name_and_tax_id",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name or _('用户')} {self.mobile_masked}"

    def set_mobile(self, mobile: str) -> None:
        mobile = normalize_mobile(mobile)
        self.mobile = mobile
        self.mobile_digest = mobile_digest(mobile)
        self.mobile_masked = mask_mobile(mobile)

    def get_short_name(self) -> str:
        return self.name or self.mobile_masked

    def get_full_name(self) -> str:
        return self.name or self.mobile_masked

    @property
    def is_enterprise(self) -> bool:
        return self.account_type == self.AccountType.ENTERPRISE


class SmsCode(models.Model):
    """One code sent to one mobile for one purpose. Only digests are kept."""

    class Purpose(models.TextChoices):
        REGISTER = "register", _("注册")
        LOGIN = "login", _("登录")
        RESET = "reset", _("重置密码")
        BIND = "bind", _("绑定ETC卡")

    mobile_digest = models.CharField(max_length=64, verbose_name=_("手机号摘要"))
    mobile_masked = models.CharField(max_length=11, verbose_name=_("手机号"))
    purpose = models.CharField(max_length=16, choices=Purpose.choices, verbose_name=_("用途"))
    # What the code is for beyond its purpose, e.g. the binding it confirms.
    scope = models.CharField(max_length=64, blank=True, default="", verbose_name=_("范围"))
    # Who asked: a keyed digest of the client address (or of the account, for binding codes);
    # the daily cap counts per (client, number) so that strangers cannot use up the owner's.
    client_digest = models.CharField(max_length=32, blank=True, default="", verbose_name=_("请求方摘要"))
    code_digest = models.CharField(max_length=64, verbose_name=_("验证码摘要"))
    created_at = models.DateTimeField(default=timezone.now, verbose_name=_("发送时间"))
    expires_at = models.DateTimeField(verbose_name=_("过期时间"))
    tries = models.PositiveSmallIntegerField(default=0, verbose_name=_("尝试次数"))
    consumed_at = models.DateTimeField(null=True, blank=True, verbose_name=_("使用时间"))

    class Meta:
        verbose_name = _("短信验证码")
        verbose_name_plural = _("短信验证码")
        indexes = [models.Index(fields=["mobile_digest", "purpose", "-created_at"], name="smscode_lookup")]

    def __str__(self) -> str:
        return f"{self.get_purpose_display()} {self.mobile_masked}"


class OutboundSms(models.Model):
    """The SMS outbox: every message is a row first, written in the transaction that decided to
    send it, and a Celery task delivers it (``accounts.tasks.sms_send``), never a web request.
    The mobile and the text are encrypted; a code's text is wiped once it is delivered."""

    class Status(models.TextChoices):
        PENDING = "pending", _("待发送")
        SENT = "sent", _("已发送")
        EXPIRED = "expired", _("已过期未发送")
        FAILED = "failed", _("发送失败")

    mobile = EncryptedCharField(_("手机号"), max_length=11)
    mobile_masked = models.CharField(_("手机号"), max_length=11)
    purpose = models.CharField(_("用途"), max_length=16)
    text = EncryptedTextField(_("内容"), blank=True, null=True)
    code = EncryptedCharField(_("验证码"), max_length=6, blank=True, null=True)
    status = models.CharField(_("状态"), max_length=8, choices=Status.choices, default=Status.PENDING)
    created_at = models.DateTimeField(_("创建时间"), default=timezone.now)
    # A code is useless after it expires: it is then never sent late.
    expires_at = models.DateTimeField(_("过期时间"), null=True, blank=True)
    sent_at = models.DateTimeField(_("发送时间"), null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(_("尝试次数"), default=0)
    last_error = models.CharField(_("最近错误"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("待发短信")
        verbose_name_plural = _("待发短信")
        indexes = [models.Index(fields=["status", "created_at"], name="outboundsms_pending")]

    def __str__(self) -> str:
        return f"{self.purpose} {self.mobile_masked} {self.status}"


class AppToken(models.Model):
    """A bearer token of the mobile App. Only its SHA-256 digest is stored."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="app_tokens", verbose_name=_("用户"))
    digest = models.CharField(max_length=64, unique=True, verbose_name=_("令牌摘要"))
    prefix = models.CharField(max_length=8, verbose_name=_("令牌前缀"))
    created_at = models.DateTimeField(default=timezone.now, verbose_name=_("创建时间"))
    last_used_at = models.DateTimeField(null=True, blank=True, verbose_name=_("最近使用"))
    revoked_at = models.DateTimeField(null=True, blank=True, verbose_name=_("吊销时间"))

    class Meta:
        verbose_name = _("App 令牌")
        verbose_name_plural = _("App 令牌")

    def __str__(self) -> str:
        return f"{self.prefix}…"


class Partner(models.Model):
    """A partner system: a card issuer, a clearing centre or an enterprise."""

    class Kind(models.TextChoices):
        ISSUER = "issuer", _("发行方")
        CLEARING = "clearing", _("清分结算中心")
        ENTERPRISE = "enterprise", _("企业")

    kind = models.CharField(_("类型"), max_length=16, choices=Kind.choices)
    name = models.CharField(_("名称"), max_length=100)
    tax_id = models.CharField(_("纳税人识别号"), max_length=18, blank=True, db_index=True)
    is_active = models.BooleanField(_("有效"), default=True)
    created_at = models.DateTimeField(_("创建时间"), default=timezone.now)

    history = HistoricalRecords()

    class Meta:
        verbose_name = _("合作方")
        verbose_name_plural = _("合作方")
        constraints = [
            models.CheckConstraint(
                condition=~Q(kind="enterprise") | ~Q(tax_id=""), name="enterprise_partner_has_tax_id"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name}（{self.get_kind_display()}）"

    @property
    def network_code_list(self) -> list[str]:
        """The card network codes of the issuers this partner acts for (``cards.Issuer.partner``:
        the issuer owns its codes)."""
        return sorted(n.code for issuer in self.issuers.all() for n in issuer.network_codes.all())


class PartnerToken(models.Model):
    partner = models.ForeignKey(Partner, on_delete=models.PROTECT, related_name="tokens", verbose_name=_("合作方"))
    digest = models.CharField(max_length=64, unique=True, verbose_name=_("令牌摘要"))
    prefix = models.CharField(max_length=8, verbose_name=_("令牌前缀"))
    created_at = models.DateTimeField(default=timezone.now, verbose_name=_("创建时间"))
    last_used_at = models.DateTimeField(null=True, blank=True, verbose_name=_("最近使用"))
    revoked_at = models.DateTimeField(null=True, blank=True, verbose_name=_("吊销时间"))

    class Meta:
        verbose_name = _("合作方令牌")
        verbose_name_plural = _("合作方令牌")

    def __str__(self) -> str:
        return f"{self.prefix}…"


class CrossPartnerRefusal(models.Model):
    """A partner's bulk write refused because the row it named belongs to another partner
    (``not_owner``): what platform staff review for misconfigured or hostile partners."""

    class Kind(models.TextChoices):
        OPERATOR = "operator", _("经营单位")
        SECTION = "section", _("路段")
        TRANSIT = "transit", _("通行记录")
        RECHARGE = "recharge", _("充值记录")

    partner = models.ForeignKey(Partner, verbose_name=_("提交方"), on_delete=models.PROTECT, related_name="+")
    owner = models.ForeignKey(
        Partner, verbose_name=_("所有方"), on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    kind = models.CharField(_("数据类型"), max_length=16, choices=Kind.choices)
    item_id = models.CharField(_("数据编号"), max_length=100)
    at = models.DateTimeField(_("时间"), default=timezone.now, db_index=True)

    class Meta:
        verbose_name = _("越权写入（已拒绝）")
        verbose_name_plural = _("越权写入（已拒绝）")
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.item_id}"
