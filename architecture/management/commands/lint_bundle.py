"""``manage.py lint_bundle FILE [--format table|json] [--flavour auto|proxmox|kubevirt|generic]``.

Thin wrapper around :func:`architecture.lint.run`; the process exit code is the lint result:
0 clean or info only, 1 warnings, 2 errors, 3 unreadable input.
"""

from __future__ import annotations

import sys

from django.core.management.base import BaseCommand, CommandParser

from architecture.lint import add_arguments, run


class Command(BaseCommand):
    help = "Lint a Cozystack platform bundle: duplicates, dependsOn, cycles, missing Proxmox essentials."
    requires_system_checks: list[str] = []
    requires_migrations_checks = False

    def add_arguments(self, parser: CommandParser) -> None:
        add_arguments(parser)

    def handle(self, *args: object, **options: object) -> None:
        code = run(
            str(options["file"]),
            output_format=str(options["output_format"]),
            flavour=str(options["flavour"]),
            name=options["name"] if isinstance(options["name"], str) else None,
            stdout=self.stdout,
            stderr=self.stderr,
        )
        if code:
            sys.exit(code)
