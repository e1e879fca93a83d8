from django.conf import settings
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.response import Response

from accounts.audiences import AppAPIView, AppPublicAPIView
from piaogen.api import ErrorSerializer
from piaogen.limits import client_address
from piaogen.masking import mask_mobile

from .. import services
from .serializers import (
    ChangePasswordSerializer,
    LoginRefusedSerializer,
    LoginSerializer,
    MeSerializer,
    RegisterSerializer,
    ResetPasswordSerializer,
    SmsCodeRequestSerializer,
    SmsCodeSentSerializer,
    TokenSerializer,
)

ERRORS = {400: ErrorSerializer, 429: ErrorSerializer}


class SmsCodeView(AppPublicAPIView):
    @extend_schema(
        operation_id="app_sms_codes_create",
        request=SmsCodeRequestSerializer,
        responses={202: SmsCodeSentSerializer, **ERRORS},
        summary="发送短信验证码",
    )
    def post(self, request):
        s = SmsCodeRequestSerializer(data=request.data)
        s.is_valid(raise_exception=True)
        services.sms_code_send(**s.validated_data, address=client_address(request))
        return Response(
            {
                "masked_mobile": mask_mobile(services.clean_mobile(s.validated_data["mobile"])),
                "expires_in": settings.SMS_CODE_TTL_SECONDS,
                "resend_after": settings.SMS_RESEND_SECONDS,
            },
            status=status.HTTP_202_ACCEPTED,
        )


class RegisterView(AppPublicAPIView):
    @extend_schema(
        operation_id="app_register",
        request=RegisterSerializer,
        responses={201: TokenSerializer, **ERRORS},
        summary="注册并取得令牌",
    )
    def post(self, request):
        s = RegisterSerializer(data=request.data)
        s.is_valid(raise_exception=True)
        user = services.user_register(**s.validated_data)
        return Response({"token": services.app_token_issue(user=user)}, status=status.HTTP_201_CREATED)


class LoginView(AppPublicAPIView):
    @extend_schema(
        operation_id="app_login",
        request=LoginSerializer,
        responses={200: TokenSerializer, 400: ErrorSerializer, 429: LoginRefusedSerializer},
        summary="密码或短信验证码登录",
    )
    def post(self, request):
        s = LoginSerializer(data=request.data)
        s.is_valid(raise_exception=True)
        user = services.user_authenticate(**s.validated_data, address=client_address(request))
        return Response({"token": services.app_token_issue(user=user)})


class ResetPasswordView(AppPublicAPIView):
    @extend_schema(
        operation_id="app_password_reset",
        request=ResetPasswordSerializer,
        responses={200: TokenSerializer, **ERRORS},
        summary="短信验证码重置密码",
    )
    def post(self, request):
        s = ResetPasswordSerializer(data=request.data)
        s.is_valid(raise_exception=True)
        user = services.user_reset_password(**s.validated_data)
        return Response({"token": services.app_token_issue(user=user)})


class MeView(AppAPIView):
    @extend_schema(operation_id="app_me", responses={200: MeSerializer}, summary="当前账户")
    def get(self, request):
        return Response(MeSerializer(request.user).data)


class LogoutView(AppAPIView):
    @extend_schema(
        operation_id="app_logout",
        request=None,
        responses={204: OpenApiResponse(description="令牌已作废")},
        summary="退出登录（作废当前令牌）",
    )
    def post(self, request):
        services.app_token_revoke(token=request.auth)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ChangePasswordView(AppAPIView):
    @extend_schema(
        operation_id="app_password_change",
        request=ChangePasswordSerializer,
        responses={204: OpenApiResponse(description="密码已修改；本账户其他令牌均已作废"), **ERRORS},
        summary="修改密码（作废本账户的其他令牌）",
    )
    def post(self, request):
        s = ChangePasswordSerializer(data=request.data)
        s.is_valid(raise_exception=True)
        services.user_change_password(user=request.user, keep_token=request.auth, **s.validated_data)
        return Response(status=status.HTTP_204_NO_CONTENT)
