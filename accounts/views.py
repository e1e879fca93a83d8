from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login, update_session_auth_hash
from django.contrib.auth.mixins import LoginRequiredMixin
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.html import format_html
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.generic import FormView

from piaogen.errors import ServiceError
from piaogen.forms import add_service_error
from piaogen.limits import client_address
from piaogen.masking import mask_mobile

from . import services
from .forms import ChangePasswordForm, LoginForm, RegisterForm, ResetForm
from .models import SmsCode


class SmsFormView(FormView):
    """A form with a「获取验证码」button: that button sends the code and keeps what was typed."""

    purpose: str = ""

    def post(self, request, *args, **kwargs):
        form = self.get_form()
        if "send_code" in request.POST:
            form.is_valid()  # to populate cleaned_data for redisplay; errors are cleared below
            form.errors.clear()
            limited = None
            try:
                services.sms_code_send(
                    mobile=request.POST.get("mobile", ""), purpose=self.purpose, address=client_address(request)
                )
            except ServiceError as exc:
                add_service_error(form, exc)
                limited = exc if exc.retry_after is not None else None
            else:
                messages.success(
                    request,
                    _("验证码已发送至 %(mobile)s，%(minutes)s 分钟内有效。")
                    % {
                        "mobile": mask_mobile(services.clean_mobile(request.POST.get("mobile", ""))),
                        "minutes": settings.SMS_CODE_TTL_SECONDS // 60,
                    },
                )
            response = self.render_to_response(self.get_context_data(form=form, code_sent=True))
            if limited is not None:
                response.status_code = limited.status
                response["Retry-After"] = str(limited.retry_after)
            return response
        return super().post(request, *args, **kwargs)


class RegisterView(SmsFormView):
    template_name = "accounts/register.html"
    form_class = RegisterForm
    purpose = SmsCode.Purpose.REGISTER

    def form_valid(self, form):
        try:
            user = services.user_register(**form.register_arguments())
        except ServiceError as exc:
            add_service_error(form, form.as_shown(exc))
            return self.form_invalid(form)
        login(self.request, user, backend="django.contrib.auth.backends.ModelBackend")
        messages.success(
            self.request,
            format_html(
                '{} <a href="{}">{}</a>',
                _("注册成功，欢迎使用票根。"),
                reverse("cards:bind"),
                _("下一步：绑定您的ETC卡"),
            ),
        )
        return redirect("home")


class LoginView(SmsFormView):
    """Password login, or SMS-code login (获取验证码 sends a login code to the mobile typed)."""

    template_name = "accounts/login.html"
    form_class = LoginForm
    purpose = SmsCode.Purpose.LOGIN

    def form_valid(self, form):
        data = form.cleaned_data
        # A code typed in is the login: the password field is left aside then.
        credentials = {"code": data["code"]} if data.get("code", "").strip() else {"password": data["password"]}
        try:
            user = services.user_authenticate(
                mobile=data["mobile"], **credentials, address=client_address(self.request)
            )
        except ServiceError as exc:
            add_service_error(form, exc)
            response = self.form_invalid(form)
            if exc.retry_after is not None:
                response.status_code = exc.status
                response["Retry-After"] = str(exc.retry_after)
            return response
        login(self.request, user, backend="django.contrib.auth.backends.ModelBackend")
        target = self.request.POST.get("next") or self.request.GET.get("next") or ""
        if not url_has_allowed_host_and_scheme(target, allowed_hosts={self.request.get_host()}):
            target = ""
        return redirect(target or "home")

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        ctx["next"] = self.request.POST.get("next") or self.request.GET.get("next", "")
        return ctx


class PasswordResetView(SmsFormView):
    template_name = "accounts/reset.html"
    form_class = ResetForm
    purpose = SmsCode.Purpose.RESET

    def form_valid(self, form):
        try:
            services.user_reset_password(**form.cleaned_data)
        except ServiceError as exc:
            add_service_error(form, exc)
            return self.form_invalid(form)
        messages.success(self.request, _("密码已重置，请用新密码登录。"))
        return redirect("accounts:login")


class ProfileView(LoginRequiredMixin, FormView):
    template_name = "accounts/profile.html"
    form_class = ChangePasswordForm

    def form_valid(self, form):
        try:
            services.user_change_password(user=self.request.user, **form.cleaned_data)
        except ServiceError as exc:
            add_service_error(form, exc)
            return self.form_invalid(form)
        update_session_auth_hash(self.request, self.request.user)
        messages.success(self.request, _("密码已修改。"))
        return redirect("accounts:profile")
