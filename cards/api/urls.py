# This app's slice of the API: app_urlpatterns mount under /api/v1/app/,
# partner_urlpatterns under /api/v1/partner/.
from django.urls import path

from . import autoinvoice, views

app_urlpatterns = [
    path("cards", views.CardsView.as_view(), name="app-cards"),
    path("cards/confirm", views.CardConfirmView.as_view(), name="app-cards-confirm"),
    path("cards/bulk", views.CardBulkView.as_view(), name="app-cards-bulk"),
    path("cards/bulk/confirm", views.CardBulkConfirmView.as_view(), name="app-cards-bulk-confirm"),
    path("cards/<str:card_no>", views.CardDetailView.as_view(), name="app-card"),
    path("cards/<str:card_no>/default-title", views.CardDefaultTitleView.as_view(), name="app-card-default-title"),
    path("cards/<str:card_no>/auto-invoice", autoinvoice.CardAutoInvoiceView.as_view(), name="app-card-auto-invoice"),
    path("auto-invoice", autoinvoice.AutoInvoiceView.as_view(), name="app-auto-invoice"),
    path("titles", views.TitlesView.as_view(), name="app-titles"),
    path("titles/<int:id>", views.TitleDetailView.as_view(), name="app-title"),
]
partner_urlpatterns = [
    path("cards", views.RegistryPushView.as_view(), name="partner-cards"),
]
