from django.urls import path

from . import views

app_name = "support"
urlpatterns = [
    path("", views.HelpView.as_view(), name="help"),
    path("search/", views.SearchView.as_view(), name="search"),
    path("c/<slug:code>/", views.CategoryView.as_view(), name="category"),
    path("faq/<int:pk>/", views.FaqView.as_view(), name="faq"),
    path("diagnose/", views.DiagnoseView.as_view(), name="diagnose"),
    path("tickets/", views.TicketListView.as_view(), name="tickets"),
    path("tickets/new/", views.TicketCreateView.as_view(), name="ticket_new"),
    path("tickets/<int:pk>/", views.TicketDetailView.as_view(), name="ticket"),
    path("tickets/<int:pk>/messages/", views.TicketActionView.as_view(action="message"), name="ticket_message"),
    path("tickets/<int:pk>/reopen/", views.TicketActionView.as_view(action="reopen"), name="ticket_reopen"),
    path("tickets/<int:pk>/rate/", views.TicketActionView.as_view(action="rate"), name="ticket_rate"),
]
