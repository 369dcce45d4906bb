from django.contrib.auth import views as auth_views
from django.urls import path

from . import alert_pages, staff_pages, views

app_name = "dashboard"

urlpatterns = [
    path("", views.overview, name="overview"),
    path("metrics/<int:metric_id>", views.metric, name="metric"),
    path(
        "login",
        auth_views.LoginView.as_view(template_name="dashboard/login.html"),
        name="login",
    ),
    path("logout", auth_views.LogoutView.as_view(), name="logout"),
    path("alerts", alert_pages.alerts, name="alerts"),
    path("alerts/rules", alert_pages.rules, name="alert-rules"),
    path("alerts/rules/new", alert_pages.rule_new, name="alert-rule-new"),
    path("alerts/rules/<int:rule_id>", alert_pages.rule_edit, name="alert-rule"),
    path("alerts/rules/<int:rule_id>/delete", alert_pages.rule_delete, name="alert-rule-delete"),
    path("alerts/channels", alert_pages.channels, name="alert-channels"),
    path("alerts/channels/new", alert_pages.channel_new, name="alert-channel-new"),
    path("alerts/channels/<int:channel_id>", alert_pages.channel_edit, name="alert-channel"),
    path(
        "alerts/channels/<int:channel_id>/delete",
        alert_pages.channel_delete,
        name="alert-channel-delete",
    ),
    path(
        "alerts/channels/<int:channel_id>/test",
        alert_pages.channel_test,
        name="alert-channel-test",
    ),
    path("pairs", staff_pages.pairs, name="pairs"),
    path("pairs/<int:pair_id>/active", staff_pages.pair_active, name="pair-active"),
    path("pairs/<int:pair_id>/remove", staff_pages.pair_remove, name="pair-remove"),
    path("exchanges", staff_pages.exchanges, name="exchanges"),
]
