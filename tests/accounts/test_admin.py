"""The Django admin lists what staff manage, and only staff get in."""

import pytest
from django.contrib.auth.models import User
from django.test import Client

from tests.factories import metric_create

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "path",
    [
        "/admin/markets/exchange/",
        "/admin/markets/pair/",
        "/admin/markets/metric/",
        "/admin/accounts/apitoken/",
    ],
)
def test_administrators_see_the_lists(path):
    metric_create("BTC/USD")
    client = Client()
    client.force_login(User.objects.create_superuser("root", password="x" * 12))
    response = client.get(path)
    assert response.status_code == 200


def test_ordinary_users_are_sent_to_the_login_page():
    client = Client()
    client.force_login(User.objects.create_user("alice", password="x" * 12))
    response = client.get("/admin/markets/pair/")
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")
