"""The message centre's pages, mounted at /messages/ (namespace ``notifications``)."""

from django.urls import path

from . import views

app_name = "notifications"
urlpatterns = [
    path("", views.NotificationListView.as_view(), name="list"),
    path("<int:pk>/", views.NotificationOpenView.as_view(), name="message_open"),
    path("read-all/", views.NotificationReadAllView.as_view(), name="mark_all_read"),
]
