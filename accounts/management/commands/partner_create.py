from django.core.management.base import BaseCommand, CommandError

from accounts.models import Partner
from accounts.services import partner_create
from piaogen.errors import ServiceError


class Command(BaseCommand):
    help = "Creates a partner (issuer, clearing centre or enterprise) and prints its API token as the last line."

    def add_arguments(self, parser):
        parser.add_argument("--kind", required=True, choices=Partner.Kind.values)
        parser.add_argument("--name", required=True)
        parser.add_argument(
            "--network-code",
            dest="network_codes",
            action="append",
            default=[],
            help="a 4-digit card network code the issuer owns; repeat for several",
        )
        parser.add_argument("--tax-id", default="", help="the partner's USCC (required for an enterprise)")

    def handle(self, *args, kind, name, network_codes, tax_id, **options):
        codes = [c for value in network_codes for c in value.replace(",", " ").split()]
        try:
            partner, token = partner_create(kind=kind, name=name, network_codes=codes, tax_id=tax_id)
        except ServiceError as exc:
            detail = "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.errors.items()) or exc.message
            raise CommandError(detail) from None
        self.stdout.write(
            f"Created partner #{partner.pk} {partner.name} ({partner.kind})"
            + (f" owning {', '.join(codes)}" if codes else "")
        )
        self.stdout.write("API token (shown once; only its hash is stored):")
        self.stdout.write(token)
