# This app's slice of the API: app_urlpatterns mount under /api/v1/app/,
# partner_urlpatterns under /api/v1/partner/.
from django.urls import path

from . import batches, documents, invoicing, views

app_urlpatterns = [
    path("transits", views.AppTransitsView.as_view(), name="app-transits"),
    path("recharges", views.AppRechargesView.as_view(), name="app-recharges"),
    path("applications", invoicing.ApplicationsView.as_view(), name="app-applications"),
    path("applications/preview", invoicing.ApplicationPreviewView.as_view(), name="app-applications-preview"),
    path("applications/<int:pk>", invoicing.ApplicationDetailView.as_view(), name="app-application"),
    path("applications/<int:pk>/title-change", invoicing.TitleChangeView.as_view(), name="app-title-change"),
    path("applications/<int:pk>/resend", invoicing.ResendView.as_view(), name="app-application-resend"),
    path("invoices", invoicing.InvoicesView.as_view(), name="app-invoices"),
    path("invoices/<int:pk>", invoicing.InvoiceDetailView.as_view(), name="app-invoice"),
    path("invoices/<int:pk>/reverse", invoicing.InvoiceReverseView.as_view(), name="app-invoice-reverse"),
    path("invoices/<int:pk>/pdf", documents.InvoicePdfView.as_view(), name="app-invoice-pdf"),
    path("invoices/<int:pk>/xml", documents.InvoiceXmlView.as_view(), name="app-invoice-xml"),
    path("invoices/ledger", documents.LedgerView.as_view(), name="app-invoice-ledger"),
    path("invoices/zip", documents.CardMonthZipView.as_view(), name="app-invoice-card-month-zip"),
    path("applications/<int:pk>/zip", documents.ApplicationZipView.as_view(), name="app-application-zip"),
    path("batches", batches.BatchesView.as_view(), name="app-batches"),
    path("batches/preview", batches.BatchPreviewView.as_view(), name="app-batches-preview"),
    path("batches/<int:pk>", batches.BatchDetailView.as_view(), name="app-batch"),
    path("batches/<int:pk>/zip", batches.BatchZipView.as_view(), name="app-batch-zip"),
    path("ledger", documents.PeriodLedgerView.as_view(), name="app-ledger"),
]
partner_urlpatterns = [
    path("operators", views.OperatorBatchView.as_view(), name="partner-operators"),
    path("transits", views.TransitBatchView.as_view(), name="partner-transits"),
    path("recharges", views.RechargeBatchView.as_view(), name="partner-recharges"),
    path("invoices", invoicing.PartnerInvoiceFeedView.as_view(), name="partner-invoices"),
    path("invoices/<str:code>/<str:number>/pdf", documents.PartnerInvoicePdfView.as_view(), name="partner-invoice-pdf"),
    path("invoices/<str:code>/<str:number>/xml", documents.PartnerInvoiceXmlView.as_view(), name="partner-invoice-xml"),
    path("invoices/<str:number>/pdf", documents.PartnerDigitalInvoicePdfView.as_view(), name="partner-digital-pdf"),
    path("invoices/<str:number>/xml", documents.PartnerDigitalInvoiceXmlView.as_view(), name="partner-digital-xml"),
]
