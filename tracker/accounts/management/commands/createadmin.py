"""`manage.py createadmin`: the first administrator, from TRACKER_ADMIN_USER / _PASSWORD."""

from __future__ import annotations

import os
from typing import Any

from django.contrib.auth.models import User
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser


class Command(BaseCommand):
    help = (
        "Create a superuser from TRACKER_ADMIN_USER and TRACKER_ADMIN_PASSWORD, without prompts. "
        "An existing user is left as it is unless --reset-password is given."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--reset-password",
            action="store_true",
            help="Set the password of an existing user to TRACKER_ADMIN_PASSWORD.",
        )

    def handle(self, *args: Any, reset_password: bool = False, **options: Any) -> None:
        username = os.environ.get("TRACKER_ADMIN_USER", "").strip()
        password = os.environ.get("TRACKER_ADMIN_PASSWORD", "")
        if not username or not password:
            raise CommandError("Set TRACKER_ADMIN_USER and TRACKER_ADMIN_PASSWORD.")
        user = User.objects.filter(username=username).first()
        if user is not None and not reset_password:
            self.stdout.write(f"{username} exists; left unchanged (--reset-password to change it)")
            return
        try:
            validate_password(password, user=user or User(username=username))
        except ValidationError as exc:
            raise CommandError("TRACKER_ADMIN_PASSWORD: " + " ".join(exc.messages)) from exc
        if user is None:
            User.objects.create_superuser(username=username, password=password, email="")
            self.stdout.write(f"created administrator {username}")
            return
        user.set_password(password)
        user.is_staff = user.is_superuser = user.is_active = True
        user.save()
        self.stdout.write(f"reset the password of {username}")
