"""The public verification page (发票查验), for a company's accountant holding an invoice: the
same rules as ``GET /api/v1/verify`` (invoices/verification.py), no account needed.

The person chooses the kind of document (票据种类) or lets the number say it: a number of 8, 10
or 20 digits belongs to one kind only, so it decides the kind on the server (with or without
scripts), and ``verify.js`` switches the choice and the fields as soon as it is typed. Every
field is in the page; the script shows only the chosen kind's, with that kind's labels (票据代码
for a fiscal e-bill); without scripts a person sees them all, each hint naming its kinds."""

from __future__ import annotations

from django.views.generic import TemplateView

from .. import verification
from ..forms import DATE_ERROR, VAT, VerifyForm
from ..regimes import DocumentKind


class VerifyPageView(TemplateView):
    replica_reads = True  # its GETs tolerate replica lag (piaogen/replica.py)
    template_name = "invoices/verify.html"

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        if "form" not in ctx:  # a link may carry the kind, code, number and date (YYYYMMDD) to fill in
            initial = {k: self.request.GET.get(k, "")[:24] for k in ("document_kind", "code", "number", "date")}
            day = initial["date"]
            if len(day) == 8 and day.isascii() and day.isdigit():
                initial["date"] = f"{day[:4]}-{day[4:6]}-{day[6:]}"  # what a date input shows
            if initial["document_kind"] not in DocumentKind.values:
                initial["document_kind"] = verification.KIND_OF_NUMBER_LENGTH.get(len(initial["number"]), VAT)
            ctx["form"] = VerifyForm(initial=initial)
        ctx["max_checks"] = verification.max_per_client()
        ctx["max_total"] = verification.max_per_invoice()
        return ctx

    def post(self, request):
        form = VerifyForm(request.POST)
        if not form.is_valid():  # only a value longer than any real one
            return self.render_to_response(self.get_context_data(form=form))
        params = form.params()
        if form.data.get("document_kind") != params["document_kind"]:
            # the number said the kind: the form shows it chosen (and its fields) with the answer
            form.data = form.data.copy()
            form.data["document_kind"] = params["document_kind"]
        outcome = verification.check_request(request, self, params, user=request.user)
        if outcome.client_wait is not None:
            response = self.render_to_response(
                self.get_context_data(form=form, outcome=outcome, client_limited=True), status=429
            )
            response["Retry-After"] = str(outcome.client_wait)
            return response
        for name, messages in outcome.errors.items():
            for message in messages:
                form.add_error(name, DATE_ERROR if name == "date" else message)  # the page takes both forms
        status = {verification.MALFORMED: 400, verification.TOO_MANY: 429}.get(outcome.result, 200)
        return self.render_to_response(self.get_context_data(form=form, outcome=outcome), status=status)
