"""Invoice documents: the PDF (WeasyPrint) and its XML twin, the summary sheet of an
application, their storage, the application's ZIP and the e-mail that carries it.

- ``rendering``: HTML → PDF, the font, the URL fetcher that refuses everything;
- ``layout``: every printed field, shared by the PDF and the XML;
- ``capitals``, ``qr``: amounts in Chinese capitals, the QR code;
- ``xmldoc``, ``storage``, ``archive``, ``mail``;
- ``services``: rendering and storing, re-render, delivery, the sweep (run by ``invoices.tasks``).
"""
