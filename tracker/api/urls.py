from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from . import accounts, alerts, exchanges, metrics, pairs, records, stream, views

app_name = "api"

urlpatterns = [
    path("", views.ApiRootView.as_view(), name="root"),
    path("metrics", metrics.MetricListView.as_view(), name="metric-list"),
    path("metrics/<int:metric_id>", views.MetricDetailView.as_view(), name="metric-detail"),
    path(
        "metrics/<int:metric_id>/records",
        records.MetricRecordsView.as_view(),
        name="metric-records",
    ),
    path(
        "metrics/<int:metric_id>/records.csv",
        records.MetricRecordsCSVView.as_view(),
        name="metric-records-csv",
    ),
    path(
        "metrics/<int:metric_id>/buckets",
        records.MetricBucketsView.as_view(),
        name="metric-buckets",
    ),
    path(
        "metrics/<int:metric_id>/buckets.csv",
        records.MetricBucketsCSVView.as_view(),
        name="metric-buckets-csv",
    ),
    path("exchanges", exchanges.ExchangeListView.as_view(), name="exchange-list"),
    path(
        "exchanges/supported",
        exchanges.ExchangeSupportedView.as_view(),
        name="exchange-supported",
    ),
    path("exchanges/<str:name>", exchanges.ExchangeDetailView.as_view(), name="exchange-detail"),
    path("pairs", pairs.PairListView.as_view(), name="pair-list"),
    path("pairs/<int:pair_id>", pairs.PairDetailView.as_view(), name="pair-detail"),
    path("channels", alerts.ChannelListView.as_view(), name="channel-list"),
    path("channels/<int:channel_id>", alerts.ChannelDetailView.as_view(), name="channel-detail"),
    path("channels/<int:channel_id>/test", alerts.ChannelTestView.as_view(), name="channel-test"),
    path("alert-rules", alerts.AlertRuleListView.as_view(), name="alert-rule-list"),
    path(
        "alert-rules/<int:rule_id>", alerts.AlertRuleDetailView.as_view(), name="alert-rule-detail"
    ),
    path("alerts", alerts.AlertListView.as_view(), name="alert-list"),
    path("stream", stream.StreamView.as_view(), name="stream"),
    path("me", accounts.MeView.as_view(), name="me"),
    path("auth/token", accounts.TokenView.as_view(), name="token"),
    path("auth/tokens", accounts.TokenListView.as_view(), name="token-list"),
    path("auth/tokens/<int:token_id>", accounts.TokenDetailView.as_view(), name="token-detail"),
    path("schema", SpectacularAPIView.as_view(), name="schema"),
    path("docs", SpectacularSwaggerView.as_view(url_name="api:schema"), name="docs"),
]

# Session login and logout pages for the browser (the browsable API), with CSRF protection.
browser_urlpatterns = [path("auth/", include("rest_framework.urls"))]
