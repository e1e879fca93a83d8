# This app's slice of the API: app_urlpatterns mount under /api/v1/app/,
# partner_urlpatterns under /api/v1/partner/.
from django.urls import path

from . import views
from .cti import CtiEventView

app_urlpatterns = [
    path("tickets", views.TicketsView.as_view(), name="app-support-tickets"),
    path("tickets/<int:pk>", views.TicketView.as_view(), name="app-support-ticket"),
    path("tickets/<int:pk>/messages", views.TicketMessagesView.as_view(), name="app-support-ticket-messages"),
    path("tickets/<int:pk>/rate", views.TicketRateView.as_view(), name="app-support-ticket-rate"),
    path("tickets/<int:pk>/reopen", views.TicketReopenView.as_view(), name="app-support-ticket-reopen"),
    path("faq", views.FaqView.as_view(), name="app-support-faq"),
    path("notifications", views.NotificationsView.as_view(), name="app-support-notifications"),
    path(
        "notifications/read-all",
        views.NotificationsReadAllView.as_view(),
        name="app-support-notifications-read-all",
    ),
    path(
        "notifications/<int:pk>/read",
        views.NotificationReadView.as_view(),
        name="app-support-notification-read",
    ),
]
partner_urlpatterns: list = []
# Mounted under /api/v1/cti/: the telephone switch's events, switch tokens only.
cti_urlpatterns = [path("events", CtiEventView.as_view(), name="cti-events")]
