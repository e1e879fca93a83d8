"""The site's URLs and the bench's reference view: the same middleware, no database.

The reference answers at ``/api/v1/bench/trivial``, placed just before ``/api/v1/verify`` in the
site's list, so that both pay the same URL resolution (patterns are tried in order) and the
middleware treats both as API paths (no page notices, no session read)."""

from django.http import JsonResponse
from django.urls import path

from piaogen import urls as site

TRIVIAL_PATH = "/api/v1/bench/trivial"


def trivial(request):
    return JsonResponse({"result": "ok"})


urlpatterns = list(site.urlpatterns)
_verify = next(i for i, p in enumerate(urlpatterns) if getattr(p, "name", None) == "api-verify")
urlpatterns.insert(_verify, path(TRIVIAL_PATH.lstrip("/"), trivial, name="bench-trivial"))

handler400 = site.handler400
handler403 = site.handler403
handler404 = site.handler404
handler500 = site.handler500
