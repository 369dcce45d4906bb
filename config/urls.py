from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from tracker.api.urls import browser_urlpatterns

urlpatterns = [
    path("", RedirectView.as_view(url="/api/v1/", permanent=False)),
    path("api/v1/", include("tracker.api.urls")),
    path("api/v1/", include(browser_urlpatterns)),
    path("admin/", admin.site.urls),
]

handler400 = "tracker.api.errors.bad_request"
handler403 = "tracker.api.errors.permission_denied"
handler404 = "tracker.api.errors.not_found"
handler500 = "tracker.api.errors.server_error"
