from django.urls import path

from . import batch_pages, downloads, pages, views

app_name = "invoices"
urlpatterns = [
    path("trips/", views.TransitListView.as_view(), name="transits"),
    path("trips/recharges/", views.RechargeListView.as_view(), name="recharges"),
    path("apply/", pages.ApplyView.as_view(), name="apply"),
    path("applications/<int:pk>/", pages.ApplicationView.as_view(), name="application"),
    path("applications/<int:pk>/status.json", pages.ApplicationStatusView.as_view(), name="application_status"),
    path("applications/<int:pk>/title-change/", pages.TitleChangeView.as_view(), name="title_change"),
    path("applications/<int:pk>/resend/", pages.ApplicationResendView.as_view(), name="application_resend"),
    path("applications/<int:pk>/reapply/", pages.ApplicationReapplyView.as_view(), name="application_reapply"),
    path("invoices/", pages.InvoiceListView.as_view(), name="list"),
    path("invoices/<int:pk>/", pages.InvoiceDetailView.as_view(), name="invoice"),
    path("invoices/<int:pk>/reverse/", pages.InvoiceReverseView.as_view(), name="reverse"),
    path("invoices/<int:pk>/pdf/", downloads.InvoiceDocumentView.as_view(kind="pdf"), name="invoice_pdf"),
    path("invoices/<int:pk>/xml/", downloads.InvoiceDocumentView.as_view(kind="xml"), name="invoice_xml"),
    path("invoices/ledger/", downloads.LedgerExportView.as_view(), name="ledger"),
    path("invoices/zip/", downloads.CardMonthZipView.as_view(), name="card_month_zip"),
    path("applications/<int:pk>/zip/", downloads.ApplicationZipView.as_view(), name="application_zip"),
    path("batches/new/", batch_pages.BatchApplyView.as_view(), name="batch_apply"),
    path("batches/<int:pk>/", batch_pages.BatchView.as_view(), name="batch"),
    path("batches/<int:pk>/status.json", batch_pages.BatchStatusView.as_view(), name="batch_status"),
    path("batches/<int:pk>/zip/", batch_pages.BatchZipView.as_view(), name="batch_zip"),
    path("invoices/ledger/period/", batch_pages.PeriodLedgerView.as_view(), name="period_ledger"),
]
