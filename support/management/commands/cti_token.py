from django.core.management.base import BaseCommand, CommandError

from support.cti import switch_token_issue, switch_token_revoke
from support.models import SwitchToken


class Command(BaseCommand):
    help = (
        "Telephone switch (CTI) tokens: `issue NAME` prints a new token as the last line (shown once;"
        " it opens POST /api/v1/cti/events and nothing else); `list` shows each token's prefix, name,"
        " creation, last use and revocation; `revoke PREFIX` revokes the token with that prefix."
    )

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("issue").add_argument("name", help="which switch, e.g. 'PBX 广州'")
        sub.add_parser("list")
        sub.add_parser("revoke").add_argument(
            "prefix", help="the first 8 characters of the token, as `list` shows them"
        )

    def handle(self, *args, action, **options):
        if action == "issue":
            token = switch_token_issue(name=options["name"])
            self.stdout.write(f"New switch token '{options['name']}' (shown once; only its hash is stored):")
            self.stdout.write(token)
        elif action == "list":
            for t in SwitchToken.objects.order_by("created_at", "pk"):
                state = f"revoked {t.revoked_at.isoformat()}" if t.revoked_at else "active"
                used = t.last_used_at.isoformat() if t.last_used_at else "never used"
                self.stdout.write(
                    f"{t.prefix}…  {t.name}  created {t.created_at.isoformat()}  last used {used}  {state}"
                )
        else:
            tokens = list(SwitchToken.objects.filter(prefix=options["prefix"]))
            if not tokens:
                raise CommandError("No switch token with that prefix.")
            if len(tokens) > 1:
                raise CommandError("Several tokens share that prefix: revoke them in the console.")
            if not switch_token_revoke(token=tokens[0]):
                raise CommandError("That token was already revoked.")
            self.stdout.write(f"Revoked {tokens[0].prefix}… ({tokens[0].name}).")
