from django.urls import path

from . import views

urlpatterns = [
    path("sms-codes", views.SmsCodeView.as_view(), name="app-sms-codes"),
    path("register", views.RegisterView.as_view(), name="app-register"),
    path("login", views.LoginView.as_view(), name="app-login"),
    path("logout", views.LogoutView.as_view(), name="app-logout"),
    path("password-reset", views.ResetPasswordView.as_view(), name="app-password-reset"),
    path("password", views.ChangePasswordView.as_view(), name="app-password-change"),
    path("me", views.MeView.as_view(), name="app-me"),
]

app_urlpatterns = urlpatterns
partner_urlpatterns: list = []
