from django.contrib import admin
from django.urls import include, path

from tracker.api.urls import browser_urlpatterns
from tracker.monitoring.health import healthz, readyz
from tracker.monitoring.metrics import metrics_view

urlpatterns = [
    # Operations, outside the API: no authentication classes, no throttles. Answered first,
    # before the host check, by tracker.common.observability.RequestMiddleware.
    path("healthz", healthz, name="healthz"),
    path("readyz", readyz, name="readyz"),
    path("metrics", metrics_view, name="prometheus-metrics"),
    path("api/v1/", include("tracker.api.urls")),
    path("api/v1/", include(browser_urlpatterns)),
    path("admin/", admin.site.urls),
    path("", include("tracker.dashboard.urls")),
]

handler400 = "tracker.dashboard.errors.bad_request"
handler403 = "tracker.dashboard.errors.permission_denied"
handler404 = "tracker.dashboard.errors.not_found"
handler500 = "tracker.dashboard.errors.server_error"
