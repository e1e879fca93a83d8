from django.urls import path

from .views import applications, apply, batches, downloads, invoices, trips

app_name = "invoices"
urlpatterns = [
    path("trips/", trips.TransitListView.as_view(), name="transits"),
    path("trips/recharges/", trips.RechargeListView.as_view(), name="recharges"),
    path("apply/", apply.ApplyView.as_view(), name="apply"),
    path("applications/<int:pk>/", applications.ApplicationView.as_view(), name="application"),
    path("applications/<int:pk>/status.json", applications.ApplicationStatusView.as_view(), name="application_status"),
    path("applications/<int:pk>/title-change/", applications.TitleChangeView.as_view(), name="title_change"),
    path("applications/<int:pk>/resend/", applications.ApplicationResendView.as_view(), name="application_resend"),
    path("applications/<int:pk>/reapply/", applications.ApplicationReapplyView.as_view(), name="application_reapply"),
    path("invoices/", invoices.InvoiceListView.as_view(), name="list"),
    path("invoices/<int:pk>/", invoices.InvoiceDetailView.as_view(), name="invoice"),
    path("invoices/<int:pk>/reverse/", invoices.InvoiceReverseView.as_view(), name="reverse"),
    path("invoices/<int:pk>/pdf/", downloads.InvoiceDocumentView.as_view(kind="pdf"), name="invoice_pdf"),
    path("invoices/<int:pk>/xml/", downloads.InvoiceDocumentView.as_view(kind="xml"), name="invoice_xml"),
    path("invoices/ledger/", downloads.LedgerExportView.as_view(), name="ledger"),
    path("invoices/zip/", downloads.CardMonthZipView.as_view(), name="card_month_zip"),
    path("applications/<int:pk>/zip/", downloads.ApplicationZipView.as_view(), name="application_zip"),
    path("batches/new/", batches.BatchApplyView.as_view(), name="batch_apply"),
    path("batches/<int:pk>/", batches.BatchView.as_view(), name="batch"),
    path("batches/<int:pk>/status.json", batches.BatchStatusView.as_view(), name="batch_status"),
    path("batches/<int:pk>/zip/", downloads.BatchZipView.as_view(), name="batch_zip"),
    path("invoices/ledger/period/", downloads.PeriodLedgerView.as_view(), name="period_ledger"),
]
