from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from . import views

app_name = "api"

urlpatterns = [
    path("", views.ApiRootView.as_view(), name="root"),
    path("metrics", views.MetricListView.as_view(), name="metric-list"),
    path("metrics/<int:metric_id>", views.MetricDetailView.as_view(), name="metric-detail"),
    path(
        "metrics/<int:metric_id>/records",
        views.MetricRecordsView.as_view(),
        name="metric-records",
    ),
    path("schema", SpectacularAPIView.as_view(), name="schema"),
    path("docs", SpectacularSwaggerView.as_view(url_name="api:schema"), name="docs"),
]
