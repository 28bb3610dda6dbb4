"""``manage.py kubevirt2proxmox convert ...``: the same CLI as the ``kubevirt2proxmox`` console script."""

from __future__ import annotations

import argparse
import sys

from django.core.management.base import BaseCommand

from migration.cli import main


class Command(BaseCommand):
    help = "Convert KubeVirt manifests into Proxmox VM configs and capmox objects (see: convert --help)."

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("cli_args", nargs=argparse.REMAINDER, help="arguments for kubevirt2proxmox")

    def handle(self, *args: object, **options: object) -> None:
        code = main(list(options["cli_args"]))  # type: ignore[arg-type]
        if code:
            sys.exit(code)
