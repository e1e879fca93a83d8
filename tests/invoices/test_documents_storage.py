"""Documents live behind Django's storage API alone (``STORAGES["documents"]``): with a storage
that keeps them in memory, as object storage would, every document is written, read, zipped and
downloaded without a file on disk; with short-lived URLs on, downloads redirect to the storage."""

from __future__ import annotations

import io
import zipfile
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import Storage
from django.urls import reverse

from invoices.documents import storage
from invoices.models import Invoice

from .test_documents import issue, pdf_text
from .test_invoicing import applied  # noqa: F401  (the fixture that submits and issues)

pytestmark = [pytest.mark.django_db, pytest.mark.documents]

BUCKET = "https://objects.example.test/piaogen-documents/"


class MemoryStorage(Storage):
    """Object storage in a dict: names in, bytes out, and no path on any disk."""

    objects: dict[str, bytes] = {}

    def _open(self, name, mode="rb"):
        return ContentFile(self.objects[name], name=name)

    def _save(self, name, content):
        content.seek(0)
        self.objects[name] = content.read()
        return name

    def exists(self, name):
        return name in self.objects

    def delete(self, name):
        self.objects.pop(name, None)

    def size(self, name):
        return len(self.objects[name])

    def path(self, name):
        raise NotImplementedError("object storage has no local paths")

    def url(self, name):
        return BUCKET + name


class SigningMemoryStorage(MemoryStorage):
    """The same, with presigned URLs as S3's backend makes them: ``url(name, parameters, expire)``."""

    def url(self, name, parameters=None, expire=None, http_method=None):
        query = "&".join(f"{k}={v}" for k, v in {**(parameters or {}), "X-Amz-Expires": expire}.items())
        return f"{BUCKET}{name}?{query}"


@pytest.fixture
def object_storage(settings, tmp_path):
    MemoryStorage.objects = {}
    settings.STORAGES = {
        **settings.STORAGES,
        "documents": {"BACKEND": f"{__name__}.SigningMemoryStorage"},
    }
    return MemoryStorage.objects


def test_every_document_goes_through_the_storage_and_none_to_disk(world, applied, object_storage, tmp_path):  # noqa: F811
    app = issue(world, applied)
    invoices = list(Invoice.objects.filter(application=app))
    assert len(invoices) == 3 and {i.render_status for i in invoices} == {"rendered"}
    names = {i.pdf_path for i in invoices} | {i.xml_path for i in invoices} | {storage.summary_path(app)}
    assert names <= set(object_storage) and all(not n.startswith("/") for n in names)
    assert not (tmp_path / "media").exists()  # the file system's storage was never touched
    # Downloads stream from it: the App's PDF, the application's ZIP.
    inv = invoices[0]
    r = world.user.get(f"/api/v1/app/invoices/{inv.pk}/pdf")
    assert r.status_code == 200 and b"".join(r.streaming_content) == object_storage[inv.pdf_path]
    r = world.user.get(f"/api/v1/app/applications/{app.pk}/zip")
    archive = zipfile.ZipFile(io.BytesIO(b"".join(r.streaming_content)))
    assert archive.read(storage.document_name(inv, "pdf")) == object_storage[inv.pdf_path]
    assert inv.number in pdf_text(archive.read(storage.document_name(inv, "pdf")))


def test_downloads_redirect_to_a_short_lived_url_of_the_storage(world, applied, object_storage, settings, admin_client):  # noqa: F811
    settings.DOCUMENTS_REDIRECT_SECONDS = 120
    app = issue(world, applied)
    inv = Invoice.objects.filter(application=app).first()
    r = world.user.get(f"/api/v1/app/invoices/{inv.pk}/xml")
    assert r.status_code == 302 and r["Cache-Control"] == "private, no-store"
    url = urlsplit(r["Location"])
    query = parse_qs(url.query)
    assert r["Location"].startswith(BUCKET + inv.xml_path)
    assert query["X-Amz-Expires"] == ["120"] and query["ResponseContentType"] == ["application/xml"]
    assert storage.document_name(inv, "xml") in query["ResponseContentDisposition"][0]
    # The console's download redirects the same way.
    r = admin_client.get(reverse("admin:invoices_invoice_document", args=[inv.pk, "pdf"]))
    assert r.status_code == 302 and r["Location"].startswith(BUCKET + inv.pdf_path)
    assert r["Location"].split("?")[0] == BUCKET + inv.pdf_path


def test_a_storage_without_short_lived_urls_is_streamed_even_with_redirects_on(world, applied, settings):  # noqa: F811
    settings.DOCUMENTS_REDIRECT_SECONDS = 120
    settings.STORAGES = {**settings.STORAGES, "documents": {"BACKEND": f"{__name__}.MemoryStorage"}}
    MemoryStorage.objects = {}
    app = issue(world, applied)
    inv = Invoice.objects.filter(application=app).first()
    r = world.user.get(f"/api/v1/app/invoices/{inv.pk}/pdf")
    assert r.status_code == 200 and b"".join(r.streaming_content).startswith(b"%PDF")
    # The local file system's storage gives plain URLs (no expiry): streamed as well.
    settings.STORAGES = {
        **settings.STORAGES,
        "documents": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    }
    assert storage.download_url("x.pdf", filename="x.pdf", content_type="application/pdf") is None
