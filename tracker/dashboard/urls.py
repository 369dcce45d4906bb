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
    path("pairs", staff_pages.pairs, name="pairs"),
    path("exchanges", staff_pages.exchanges, name="exchanges"),
]
