# This app's slice of the API: app_urlpatterns mount under /api/v1/app/,
# partner_urlpatterns under /api/v1/partner/.
app_urlpatterns: list = []
partner_urlpatterns: list = []
