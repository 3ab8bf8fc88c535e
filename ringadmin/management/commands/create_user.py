"""``manage.py create_user --role supervisor --username ann --email ann@example.com``."""

from __future__ import annotations

import getpass
import os
import sys

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from ringadmin.compliance.roles import Role
from ringadmin.compliance.users import user_create

DEFAULT_PASSWORD_VARIABLE = "RINGADMIN_USER_PASSWORD"  # noqa: S105 - a variable name


class Command(BaseCommand):
    help = "Create a user in one role (admin, supervisor or auditor)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--role", required=True, help="admin, supervisor or auditor")
        parser.add_argument("--username", required=True)
        parser.add_argument("--email", default="")
        parser.add_argument(
            "--password-from-env",
            nargs="?",
            const=DEFAULT_PASSWORD_VARIABLE,
            metavar="VARIABLE",
            help=f"read the password from this environment variable "
            f"(default {DEFAULT_PASSWORD_VARIABLE}) instead of prompting",
        )

    def handle(self, *args, **options) -> None:
        try:
            role = Role.from_name(options["role"])
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        password = self._password(options["password_from_env"])
        try:
            user = user_create(
                username=options["username"], email=options["email"], password=password, role=role
            )
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from None
        self.stdout.write(
            self.style.SUCCESS(f"Created {role.value[:-1].lower()} {user.username!r}.")
        )

    def _password(self, variable: str | None) -> str:
        if variable:
            password = os.environ.get(variable, "")
            if not password:
                raise CommandError(f"environment variable {variable} is empty or not set")
            return password
        if not sys.stdin.isatty():
            raise CommandError(
                "no terminal to prompt for a password: pass --password-from-env VARIABLE"
            )
        first = getpass.getpass("Password: ")
        if first != getpass.getpass("Password (again): "):
            raise CommandError("the two passwords differ")
        return first
