from django.urls import path

from . import autoinvoice_pages, views

app_name = "cards"
urlpatterns = [
    path("", views.CardListView.as_view(), name="list"),
    path("bind/", views.BindView.as_view(), name="bind"),
    path("bind/<uuid:binding_id>/", views.BindConfirmView.as_view(), name="bind_confirm"),
    path("bulk/", views.BulkBindView.as_view(), name="bulk"),
    path("bulk/<uuid:bulk_id>/", views.BulkConfirmView.as_view(), name="bulk_confirm"),
    path("auto-invoice/", autoinvoice_pages.AccountAutoInvoiceView.as_view(), name="auto_invoice"),
    path("titles/", views.TitleListView.as_view(), name="titles"),
    path("titles/new/", views.TitleCreateView.as_view(), name="title_new"),
    path("titles/<int:pk>/edit/", views.TitleEditView.as_view(), name="title_edit"),
    path("titles/<int:pk>/delete/", views.TitleDeleteView.as_view(), name="title_delete"),
    path("<str:card_no>/unbind/", views.UnbindView.as_view(), name="unbind"),
    path("<str:card_no>/default-title/", views.DefaultTitleView.as_view(), name="default_title"),
    path("<str:card_no>/auto-invoice/", autoinvoice_pages.CardAutoInvoiceView.as_view(), name="card_auto_invoice"),
]
