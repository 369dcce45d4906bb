from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

urlpatterns = [
    path("", RedirectView.as_view(url="/api/v1/", permanent=False)),
    path("api/v1/", include("tracker.api.urls")),
    path("admin/", admin.site.urls),
]

handler400 = "tracker.api.errors.bad_request"
handler403 = "tracker.api.errors.permission_denied"
handler404 = "tracker.api.errors.not_found"
handler500 = "tracker.api.errors.server_error"
