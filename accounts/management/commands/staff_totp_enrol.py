from base64 import b32encode

from django.core.management.base import BaseCommand, CommandError

from accounts.services import staff_totp_enrol
from piaogen.errors import ServiceError


class Command(BaseCommand):
    help = (
        "Enrols a TOTP authenticator (the console's second factor) for a staff member and prints "
        "its otpauth:// URI and secret, to be added to an authenticator app once."
    )

    def add_arguments(self, parser):
        parser.add_argument("--mobile", required=True, help="the staff member's login mobile")
        parser.add_argument("--name", default="console", help="a name for the device")
        parser.add_argument("--replace", action="store_true", help="replace an existing device (a lost phone)")

    def handle(self, *args, mobile, name, replace, **options):
        try:
            user, device, uri = staff_totp_enrol(mobile=mobile, name=name, replace=replace)
        except ServiceError as exc:
            raise CommandError(exc.message) from None
        self.stdout.write(
            f"TOTP device #{device.pk} enrolled for staff {user.mobile_masked} ({user.get_short_name()})."
        )
        self.stdout.write("Add it to an authenticator app (shown once; keep it secret):")
        self.stdout.write(f"secret: {b32encode(device.bin_key).decode()}")
        self.stdout.write(uri)
