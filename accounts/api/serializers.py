from django.utils.translation import gettext as _
from rest_framework import serializers

from ..models import SmsCode, User


class SmsCodeRequestSerializer(serializers.Serializer):
    mobile = serializers.CharField(max_length=32)
    purpose = serializers.ChoiceField(choices=[SmsCode.Purpose.REGISTER, SmsCode.Purpose.LOGIN, SmsCode.Purpose.RESET])


class SmsCodeSentSerializer(serializers.Serializer):
    masked_mobile = serializers.CharField()
    expires_in = serializers.IntegerField(help_text="验证码有效秒数")
    resend_after = serializers.IntegerField(help_text="多少秒后可重新获取")


class RegisterSerializer(serializers.Serializer):
    mobile = serializers.CharField(max_length=32)
    code = serializers.CharField(max_length=16)
    password = serializers.CharField(max_length=128, trim_whitespace=False)
    account_type = serializers.ChoiceField(choices=User.AccountType.choices, default=User.AccountType.PERSONAL)
    name = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    tax_id = serializers.CharField(max_length=32, required=False, allow_blank=True, default="")


class LoginSerializer(serializers.Serializer):
    mobile = serializers.CharField(max_length=32)
    password = serializers.CharField(max_length=128, required=False, allow_blank=True, trim_whitespace=False)
    code = serializers.CharField(
        max_length=16, required=False, allow_blank=True, help_text="短信登录验证码（替代密码）"
    )

    def validate(self, attrs):
        if not attrs.get("password") and not attrs.get("code"):
            raise serializers.ValidationError({"password": [_("请填写密码或短信验证码。")]})
        return attrs


class LoginRefusedSerializer(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()
    errors = serializers.DictField(child=serializers.ListField(child=serializers.CharField()))
    sms_login = serializers.BooleanField(
        required=False,
        help_text="too_many_logins 时：true 表示暂停的是该账户的密码登录，可改用短信验证码登录"
        "（sms-codes purpose=login，再以 code 登录）；false 表示该网络地址被限制",
    )


class ResetPasswordSerializer(serializers.Serializer):
    mobile = serializers.CharField(max_length=32)
    code = serializers.CharField(max_length=16)
    password = serializers.CharField(max_length=128, trim_whitespace=False)


class TokenSerializer(serializers.Serializer):
    token = serializers.CharField()


class MeSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    masked_mobile = serializers.CharField(source="mobile_masked")
    account_type = serializers.CharField()
    name = serializers.CharField()
    tax_id = serializers.CharField()
    date_joined = serializers.DateTimeField()


class ChangePasswordSerializer(serializers.Serializer):
    old_password = serializers.CharField(max_length=128, trim_whitespace=False)
    new_password = serializers.CharField(max_length=128, trim_whitespace=False)
