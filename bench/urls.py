"""The site's URLs and the bench's reference view: the same middleware, no database."""

from django.http import JsonResponse
from django.urls import include, path


def trivial(request):
    return JsonResponse({"result": "ok"})


urlpatterns = [
    path("bench/trivial", trivial),
    path("", include("piaogen.urls")),
]
