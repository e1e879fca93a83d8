from django.core.management.base import BaseCommand, CommandError

from accounts.models import Partner, PartnerToken
from accounts.services import partner_token_issue, partner_token_revoke


class Command(BaseCommand):
    help = (
        "Partner API tokens: `list PARTNER_ID` shows each token's prefix, creation, last use and"
        " revocation; `issue PARTNER_ID` prints a new token as the last line (shown once);"
        " `revoke PREFIX` revokes the token with that prefix."
    )

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("list").add_argument("partner_id", type=int)
        sub.add_parser("issue").add_argument("partner_id", type=int)
        revoke = sub.add_parser("revoke")
        revoke.add_argument("prefix", help="the first 8 characters of the token, as `list` shows them")
        revoke.add_argument("--partner-id", type=int, default=None, help="when two tokens share a prefix")

    def _partner(self, partner_id: int) -> Partner:
        try:
            return Partner.objects.get(pk=partner_id)
        except Partner.DoesNotExist:
            raise CommandError(f"No partner #{partner_id}.") from None

    def handle(self, *args, action, **options):
        if action == "list":
            partner = self._partner(options["partner_id"])
            self.stdout.write(f"Partner #{partner.pk} {partner.name} ({partner.kind})")
            for t in partner.tokens.order_by("created_at", "pk"):
                state = f"revoked {t.revoked_at.isoformat()}" if t.revoked_at else "active"
                used = t.last_used_at.isoformat() if t.last_used_at else "never used"
                self.stdout.write(f"{t.prefix}…  created {t.created_at.isoformat()}  last used {used}  {state}")
        elif action == "issue":
            partner = self._partner(options["partner_id"])
            token = partner_token_issue(partner=partner)
            self.stdout.write(
                f"New API token for partner #{partner.pk} {partner.name} (shown once; only its hash is stored):"
            )
            self.stdout.write(token)
        else:
            tokens = PartnerToken.objects.filter(prefix=options["prefix"])
            if options["partner_id"] is not None:
                tokens = tokens.filter(partner_id=options["partner_id"])
            tokens = list(tokens)
            if not tokens:
                raise CommandError("No token with that prefix.")
            if len(tokens) > 1:
                raise CommandError("Several tokens share that prefix: give --partner-id.")
            if not partner_token_revoke(token=tokens[0]):
                raise CommandError("That token was already revoked.")
            self.stdout.write(f"Revoked {tokens[0].prefix}… of partner #{tokens[0].partner_id}.")
