"""Journeys in a real browser against the product started the way ``make run`` starts it.

One live server for all the journeys: ``manage.py migrate``, ``seed_demo --if-empty`` and
``runall`` (gunicorn plus a Celery worker with beat) run as subprocesses on a free port, against
a database of their own — a SQLite file in a temporary folder, or a PostgreSQL database created
for the run when ``DATABASE_URL`` names PostgreSQL — and a broker of their own: kombu's
filesystem transport in the temporary folder, or, when ``REDIS_URL`` is given, Redis database 10
of that server (``BROWSER_REDIS_URL`` overrides it; under pytest-xdist, worker gwN takes 10 + N).

A journey that needs settings the shared server does not have (a low failure ceiling, say)
gets a server of its own from ``live_server_fixture(name, settings)``: started the same way with
``SERVER_SETTINGS`` plus its own, with a database of its own and always the filesystem broker
(the Redis databases belong to the shared server and the suite), only when such a journey runs,
and stopped as soon as its module is done. Its module overrides the ``server`` fixture, which
``open_page`` opens pages on.
The tests never touch the database: pages go through Debian's chromium driven by Playwright,
partner pushes through the partner API with tokens made by ``manage.py partner_create``, and SMS
codes are read from the file the SMS backend appends to, as a user reads a phone.

Every step saves a screenshot under ``tests/screenshots/<journey>/<viewport>/``; every user page
is checked with axe-core (no serious or critical violation) and, on the phone viewport, for
horizontal scrolling.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit
from zoneinfo import ZoneInfo

import pytest
from stdnum.cn import uscc

from accounts.roles import AGENT, SUPERVISOR
from accounts.seed import STAFF, STAFF_PASSWORD
from tests.helpers.processes import free_port
from tests.helpers.sms import SmsOutbox
from tests.helpers.waiting import wait_for
from tests.helpers.world import resident_id as shared_resident_id

BASE_DIR = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
AXE_JS = HERE / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = BASE_DIR / "tests" / "screenshots"
SHANGHAI = ZoneInfo("Asia/Shanghai")
XDIST_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")  # gw0, gw1, … under pytest -n

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORTS = {
    "desktop": {"viewport": {"width": 1280, "height": 800}},
    "phone": {
        "viewport": {"width": 390, "height": 844},
        "is_mobile": True,
        "has_touch": True,
        "device_scale_factor": 2,
    },
}
# What the assertions rely on, pinned whatever the caller's environment says.
SERVER_SETTINGS = {
    "DEBUG": "1",
    "DEMO_MODE": "1",
    "TRANSIT_AVAILABLE_AFTER_DAYS": "10",
    "TRANSIT_AVAILABLE_AFTER_DAYS_2020": "7",
    "SUPPORT_HOTLINE": "95022",
    "CELERY_TASK_ALWAYS_EAGER": "0",
    "SMS_BACKEND": "file",
    # the journeys register many users from one address; the per-address SMS limit is tested
    # in tests/reliability/test_addresses.py
    "SMS_MAX_PER_ADDRESS": "100000",
    # 我的ETC卡 a page at a time: two cards a page, so that a fleet's journey meets the pager
    # and the search with a handful of trucks (500 in production would need 20 a page)
    "CARDS_PAGE_SIZE": "2",
    "EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
    "PYTHONUNBUFFERED": "1",
}
# Variables of the test process that must not leak into the server's (test_settings sets some).
NOT_INHERITED = (
    "DJANGO_SETTINGS_MODULE",
    "SECRET_KEY",
    "PIAOGEN_VAR_DIR",
    "DATABASE_URL",
    "REDIS_URL",
    "CELERY_BROKER_URL",
    "MEDIA_ROOT",
    "SMS_FILE_PATH",
    "EMAIL_FILE_PATH",
    "PORT",
)
# Staff logins: the demo staff that `seed_demo` makes (and prints).
AGENT_MOBILE = next(mobile for mobile, role, _name in STAFF if role == AGENT)
SUPERVISOR_MOBILE = next(mobile for mobile, role, _name in STAFF if role == SUPERVISOR)
ISSUER_NETWORK_CODE = "4401"  # 广东粤通卡, hotline 96533
ISSUER_NAME = "广东粤通卡"
ISSUER_HOTLINE = "96533"
# The partners the journeys push as: `manage.py partner_create` arguments.
PARTNERS = {
    "clearing": ["--kind", "clearing", "--name", "浏览器旅程清分中心（测试）"],
    "issuer": ["--kind", "issuer", "--name", "广东粤通卡（测试）", "--network-code", ISSUER_NETWORK_CODE],
}


# --- the live server --------------------------------------------------------------------------


def _http_status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return 0


class PostgresDatabase:
    """A database of the run's own on the server ``DATABASE_URL`` names: ``<name>_browser_live``
    for the shared server, ``<name>_browser_<server>`` for another."""

    def __init__(self, url: str, server: str = "live"):
        parts = urlsplit(url)
        base = parts.path.lstrip("/") or "piaogen"
        self.name = f"{base}_browser_{server}" + (f"_{XDIST_WORKER}" if XDIST_WORKER else "")
        libpq = parts._replace(scheme="postgresql")
        self.admin_url = urlunsplit(libpq._replace(path="/postgres"))
        self.url = urlunsplit(parts._replace(path=f"/{self.name}"))

    def _run(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(sql)

    def create(self) -> None:
        self._run(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
        self._run(f'CREATE DATABASE "{self.name}"')

    def drop(self) -> None:
        self._run(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


def _redis_broker() -> str:
    """A Redis database of the live server's own, or "" for the filesystem transport."""
    explicit = os.environ.get("BROWSER_REDIS_URL", "")
    if explicit:
        return explicit
    given = os.environ.get("CELERY_BROKER_URL") or os.environ.get("REDIS_URL") or ""
    if not given.startswith(("redis://", "rediss://")):
        return ""
    # Not the suite's own database: the real-worker tests of tests/e2e consume from that one.
    number = 10 + (int(XDIST_WORKER[2:]) if XDIST_WORKER[2:].isdigit() else 0)
    return urlunsplit(urlsplit(given)._replace(path=f"/{number}"))


class LiveServer:
    """The product on a free port. ``name`` "live" is the server every journey shares; another
    name is a server of a journey's own, started with ``settings`` on top of ``SERVER_SETTINGS``
    and always on the filesystem broker."""

    def __init__(self, root: Path, *, name: str = "live", settings: dict[str, str] | None = None):
        self.name = name
        self.root = root
        self.var = root / "var"
        self.var.mkdir(parents=True)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = root / "runall.log"
        self.sms = SmsOutbox(root / "sms.jsonl")
        self.mail_dir = root / "mail"
        self.proc: subprocess.Popen | None = None
        self.log = None
        self.tokens: dict[str, str] = {}
        self.postgres: PostgresDatabase | None = None
        self.redis_url = _redis_broker() if name == "live" else ""

        env = {k: v for k, v in os.environ.items() if k not in NOT_INHERITED}
        env.update(SERVER_SETTINGS)
        env.update(settings or {})
        env.update(
            DJANGO_SETTINGS_MODULE="piaogen.settings",
            SECRET_KEY=f"browser-journeys-{os.getpid()}-{time.time_ns()}",
            PIAOGEN_VAR_DIR=str(self.var),
            SMS_FILE_PATH=str(self.sms.path),
            EMAIL_FILE_PATH=str(self.mail_dir),
            PORT=str(self.port),
        )
        database_url = os.environ.get("DATABASE_URL", "")
        if urlsplit(database_url).scheme in ("postgres", "postgresql", "pgsql", "psql"):
            self.postgres = PostgresDatabase(database_url, name)
            env["DATABASE_URL"] = self.postgres.url
        else:
            env["DATABASE_URL"] = f"sqlite:///{self.var / 'db.sqlite3'}"
        if self.redis_url:
            env["REDIS_URL"] = env["CELERY_BROKER_URL"] = self.redis_url
        self.env = env

    def manage(self, *args: str, timeout: float = 600) -> str:
        """Runs a management command against the live server's database; returns its output."""
        done = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=BASE_DIR,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if done.returncode != 0:
            raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
        return done.stdout

    def start(self, partners: dict[str, list[str]]) -> None:
        """Migrates, seeds and serves; meanwhile creates ``partners`` (name → partner_create
        arguments) and keeps their tokens in ``self.tokens``."""
        if self.postgres:
            self.postgres.create()
        if self.redis_url:
            import redis

            redis.Redis.from_url(self.redis_url).flushdb()  # messages a previous run left behind
        # What `make run` does: migrate, load the demo data into an empty database, serve.
        self.manage("migrate", "--noinput")
        self.manage("seed_demo", "--if-empty")
        self.log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "manage.py", "runall", "--port", str(self.port)],
            cwd=BASE_DIR,
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        # Partner accounts are made while the server starts: each command is a Django start-up.
        creating = {
            name: subprocess.Popen(
                [sys.executable, "manage.py", "partner_create", *args],
                cwd=BASE_DIR,
                env=self.env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            for name, args in partners.items()
        }
        for name, proc in creating.items():
            out, _ = proc.communicate(timeout=300)
            if proc.returncode != 0:
                raise RuntimeError(f"manage.py partner_create for {name} failed:\n{out[-3000:]}")
            self.tokens[name] = out.strip().splitlines()[-1]
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"manage.py runall exited with {self.proc.returncode}:\n{self.log_tail()}")
            if b" ready." in self.log_path.read_bytes() and _http_status(f"{self.url}/healthz") == 200:
                return
            time.sleep(0.25)
        raise RuntimeError(f"the live server was not ready within 180 s:\n{self.log_tail()}")

    def log_tail(self, chars: int = 4000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:] if self.log_path.exists() else ""

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)  # runall stops the web server and the worker
            try:
                self.proc.wait(timeout=45)
            except subprocess.TimeoutExpired:
                children = re.findall(rb"spawned: '\w+' with pid (\d+)", self.log_path.read_bytes())
                for pid in children:
                    try:
                        os.killpg(
                            int(pid), signal.SIGKILL
                        )  # supervisord starts each child in a process group of its own
                    except ProcessLookupError:
                        pass
                self.proc.kill()
                self.proc.wait(timeout=10)
        if self.log is not None:
            self.log.close()
        if self.postgres:
            self.postgres.drop()


def serve(tmp_path_factory, name: str = "live", settings: dict[str, str] | None = None):
    """Starts a live server (see ``LiveServer``), yields it, and stops it."""
    require_browser_tools()
    server = LiveServer(tmp_path_factory.mktemp(name), name=name, settings=settings)
    try:
        server.start(PARTNERS)
    except Exception as exc:
        server.stop()
        pytest.fail(f"could not start the product the way `make run` does ({name}): {exc}", pytrace=False)
    try:
        yield server
    finally:
        server.stop()


# Package scope: one server for every journey, stopped as soon as the last of them has run, so
# that it does not keep running through the rest of the suite.
@pytest.fixture(scope="package")
def live(tmp_path_factory) -> LiveServer:
    yield from serve(tmp_path_factory)


def live_server_fixture(name: str, settings: dict[str, str]):
    """A module-scoped fixture: a live server of the module's own, started with ``settings``
    (environment variables) on top of ``SERVER_SETTINGS`` when a journey of the module first
    asks for it, and stopped when the module is done, so that the other journeys neither wait
    for it nor share a machine with it. In the module::

        ceiling_live = live_server_fixture("ceiling", {"BINDING_MAX_FAILURES_PER_CARD": "3"})

        @pytest.fixture
        def server(ceiling_live):  # open_page opens its pages on this one
            return ceiling_live
    """
    if name == "live" or not re.fullmatch(r"[a-z][a-z0-9_]{0,30}", name):
        raise ValueError(f"a server of a journey's own needs a name of its own, not {name!r}")

    @pytest.fixture(scope="module")
    def fixture(tmp_path_factory):
        yield from serve(tmp_path_factory, name, settings)

    return fixture


@pytest.fixture
def server(live) -> LiveServer:
    """The server ``open_page`` opens pages on: the shared one, unless a module overrides it."""
    return live


# --- HTTP, as partners and the App speak it ---------------------------------------------------


def http(method: str, url: str, body=None, *, token: str = "", headers: dict | None = None) -> tuple[int, object]:
    headers = {"Accept": "application/json", **(headers or {})}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as exc:
        status, raw = exc.code, exc.read()
    try:
        return status, json.loads(raw) if raw else None
    except ValueError:
        return status, raw.decode(errors="replace")


def make_uscc(body17: str) -> str:
    return body17 + uscc.calc_check_digit(body17)


def resident_id(serial: int) -> str:
    return shared_resident_id(serial, prefix="44030519900101")


OPERATORS = [
    # code, name, province, USCC body, section (code, name, grade, property, construction start)
    (
        "BRW-OP-1",
        "粤北环高速公路有限公司（测试）",
        "4400",
        "9144000017000101A",
        ("BRW-S-1", "北环高速", "expressway", "operating", "2008-06-01"),
    ),
    (
        "BRW-OP-2",
        "东江一级公路有限公司（测试）",
        "4400",
        "9144000017000102B",
        ("BRW-S-2", "东江一级公路", "class1", "operating", "2012-03-01"),
    ),
    (
        "BRW-OP-3",
        "广东省收费还贷高速公路管理中心（测试）",
        "4400",
        "1244000017000103C",
        ("BRW-S-3", "广惠还贷高速", "expressway", "loan_repayment", "2004-05-01"),
    ),
]
OPERATOR_NAMES = [row[1] for row in OPERATORS]
# A month of trips: the first crosses all three operators' roads (three invoices).
TRIPS = [
    (3, ("广州北站", "惠州西站"), [("BRW-S-1", 4500), ("BRW-S-2", 1200), ("BRW-S-3", 2033)]),
    (12, ("广州北站", "佛山站"), [("BRW-S-1", 9733)]),
    (20, ("东莞站", "惠州站"), [("BRW-S-2", 1500), ("BRW-S-3", 2500)]),
]
# One invoice per trip and operator (per-trip mode); each section above is a different operator's.
INVOICES_PER_MONTH = sum(len({code for code, _fee in split}) for _day, _stations, split in TRIPS)
# Under today's rules (the product's regime dates) the loan-repayment road's shares are fiscal
# e-bills (通行费财政电子票据) and the others 数电 invoices (docs/regimes.md).
LOAN_SECTIONS = {section[0] for *_rest, section in OPERATORS if section[3] == "loan_repayment"}
FISCAL_PER_MONTH = sum(len({code for code, _fee in split} & LOAN_SECTIONS) for _day, _stations, split in TRIPS)


def previous_month(today: date | None = None) -> date:
    today = today or datetime.now(SHANGHAI).date()
    return (today.replace(day=1) - timedelta(days=1)).replace(day=1)


@dataclass
class Person:
    """A user and the ETC card the issuer registered for them (reserved mobile = their own)."""

    serial: int
    mobile: str
    password: str
    card_no: str
    plate: str
    id_number: str
    holder: str
    card_type: str = "account"
    token: str = ""
    extra: dict = field(default_factory=dict)

    def card_item(self, **changes) -> dict:
        item = {
            "card_no": self.card_no,
            "card_type": self.card_type,
            "plate": self.plate,
            "plate_color": 0,
            "vehicle_class": "passenger",
            "holder_name": self.holder,
            "id_type": "resident_id",
            "id_number": self.id_number,
            "mobile": self.mobile,
            "status": "active",
        }
        item.update(changes)
        return item


class World:
    """The partners of the run and the people the journeys make."""

    def __init__(self, server: LiveServer):
        self.server = server
        self.api = f"{server.url}/api/v1"
        self._serial = itertools.count(1)
        self.clearing_token = server.tokens["clearing"]
        self.issuer_token = server.tokens["issuer"]
        status, body = http("POST", f"{self.api}/partner/operators", self._operators(), token=self.clearing_token)
        assert status == 200 and not body["rejected"], body

    @staticmethod
    def _operators() -> dict:
        return {
            "operators": [
                {
                    "code": code,
                    "name": name,
                    "tax_id": make_uscc(body),
                    "province_code": province,
                    "address": "广州市测试路1号",
                    "phone": "020-00000000",
                    "bank": "测试银行",
                    "bank_account": "6200000000000000",
                    "machine_no": f"{province}{index:08d}",
                    "sections": [
                        {"code": s[0], "name": s[1], "grade": s[2], "property": s[3], "construction_start": s[4]}
                    ],
                }
                for index, (code, name, province, body, s) in enumerate(OPERATORS, start=1)
            ]
        }

    # -- people and their cards
    def new_person(self, card_type: str = "account") -> Person:
        """A person whose card the issuer has just registered; not yet a user of the platform."""
        n = next(self._serial)  # a fresh database per run: a counter is enough
        person = Person(
            serial=n,
            mobile=f"1350000{n:04d}",
            password=f"Trip{n:04d}pass",
            card_no=f"{ISSUER_NETWORK_CODE}9{n:015d}",
            plate=f"粤B{n:05d}",
            id_number=resident_id(n),
            holder=f"测试用户{n}",
            card_type=card_type,
        )
        self.push_card(person)
        return person

    def push_card(self, person: Person, **changes) -> dict:
        status, body = http(
            "POST", f"{self.api}/partner/cards", {"cards": [person.card_item(**changes)]}, token=self.issuer_token
        )
        assert status == 200 and not body["rejected"], body
        return body

    def push_trips(self, person: Person, month: date | None = None) -> list[dict]:
        first = month or previous_month()
        trips = []
        for index, (day, (entry, exit_), split) in enumerate(TRIPS, start=1):
            start = datetime(first.year, first.month, day, 8 + index, 15, tzinfo=SHANGHAI)
            trips.append(
                {
                    "transit_id": f"BRW-{person.card_no}-{first:%Y%m}-{index}",
                    "card_no": person.card_no,
                    "plate": person.plate,
                    "plate_color": 0,
                    "vehicle_class": "passenger",
                    "entry_station": entry,
                    "entry_time": start.isoformat(),
                    "exit_station": exit_,
                    "exit_time": (start + timedelta(minutes=50 * len(split))).isoformat(),
                    "fee": sum(fee for _code, fee in split),
                    "segments": [{"section_code": code, "fee": fee} for code, fee in split],
                }
            )
        status, body = http("POST", f"{self.api}/partner/transits", {"transits": trips}, token=self.clearing_token)
        assert status == 200 and not body["rejected"], body
        return trips

    def push_recharge(self, person: Person, *, amount: int, at: datetime) -> None:
        body = {
            "recharges": [
                {
                    "recharge_id": f"BRW-R-{person.card_no}-{at:%Y%m%d%H%M}",
                    "card_no": person.card_no,
                    "amount": amount,
                    "recharged_at": at.isoformat(),
                }
            ]
        }
        status, answer = http("POST", f"{self.api}/partner/recharges", body, token=self.issuer_token)
        assert status == 200 and not answer["rejected"], answer

    # -- the App API, for people whose journey starts further along
    def app(self, method: str, path: str, body=None, *, person: Person, expect: int = 200):
        status, answer = http(method, f"{self.api}/app/{path}", body, token=person.token)
        assert status == expect, (method, path, status, answer)
        return answer

    def register(self, person: Person) -> Person:
        sent = self.server.sms.count(person.mobile, "register")
        status, answer = http("POST", f"{self.api}/app/sms-codes", {"mobile": person.mobile, "purpose": "register"})
        assert status == 202, answer
        code = self.server.sms.wait_code(person.mobile, "register", after=sent)
        status, answer = http(
            "POST",
            f"{self.api}/app/register",
            {
                "mobile": person.mobile,
                "code": code,
                "password": person.password,
                "account_type": "personal",
                "name": person.holder,
            },
        )
        assert status == 201, answer
        person.token = answer["token"]
        return person

    def bind(self, person: Person) -> None:
        sent = self.server.sms.count(person.mobile, "bind")
        started = self.app(
            "POST",
            "cards",
            {
                "card_no": person.card_no,
                "holder_name": person.holder,
                "id_type": "resident_id",
                "id_number": person.id_number,
                "mobile": person.mobile,
            },
            person=person,
            expect=202,
        )
        code = self.server.sms.wait_code(person.mobile, "bind", after=sent)
        self.app(
            "POST", "cards/confirm", {"binding_id": started["binding_id"], "code": code}, person=person, expect=201
        )

    def bound_person(self, *, trips: bool = True, card_type: str = "account") -> Person:
        person = self.new_person(card_type)
        self.register(person)
        self.bind(person)
        if trips:
            self.push_trips(person)
        return person

    def issued_person(self, card_type: str = "account", mode: str = "per_trip") -> Person:
        """A user with a bound card, a month of trips and an issued application for that month
        (``mode``: per trip or monthly)."""
        person = self.bound_person(card_type=card_type)
        title = self.app(
            "POST",
            "titles",
            {
                "kind": "enterprise",
                "name": f"测试物流{person.serial}有限公司",
                "tax_id": make_uscc("91440300MA5BRW001"),
            },
            person=person,
            expect=201,
        )
        app = self.app(
            "POST",
            "applications",
            {
                "kind": "consumption",
                "card_no": person.card_no,
                "month": previous_month().strftime("%Y-%m"),
                "mode": mode,
                "title_id": title["id"],
            },
            person=person,
            expect=202,
        )
        wait_for(
            lambda: self.app("GET", f"applications/{app['id']}", person=person)["status"] == "issued",
            timeout=90,
            interval=0.5,
            what="application issued",
        )
        person.extra["application_id"] = app["id"]
        return person


@pytest.fixture(scope="package")
def world(live) -> World:
    return World(live)


@pytest.fixture(scope="package")
def journal() -> dict:
    """What one journey leaves for the next (the same user, per viewport)."""
    return {}


# --- the browser ------------------------------------------------------------------------------


def chromium_executable() -> str:
    for candidate in (os.environ.get("CHROMIUM_PATH"), shutil.which("chromium"), "/usr/bin/chromium"):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    pytest.fail(
        "Debian's chromium is not installed, so the browser journeys cannot run. `make test` installs it "
        "when run as root (apt-get install chromium); or set CHROMIUM_PATH.",
        pytrace=False,
    )


def require_browser_tools() -> str:
    """Chromium, Playwright and axe-core, or a failure saying how to get them; checked before the
    server starts, so that a machine without them fails at once."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        pytest.fail("playwright is missing: `make test` installs requirements.txt.", pytrace=False)
    if not AXE_JS.exists():
        pytest.fail(
            f"axe-core is missing ({AXE_JS.relative_to(BASE_DIR)}): `make test` runs `npm ci --prefix tests/browser` "
            "when node and npm are installed.",
            pytrace=False,
        )
    return chromium_executable()


# Not tied to a server: every server's pages are opened in contexts that ``open_page`` closes
# after each test, so no connection outlives its journey whichever stops first.
@pytest.fixture(scope="package")
def browser():
    from playwright.sync_api import expect, sync_playwright

    require_browser_tools()
    manager = sync_playwright().start()
    try:
        browser = manager.chromium.launch(executable_path=chromium_executable(), args=CHROMIUM_ARGS)
    except Exception:
        manager.stop()
        raise
    expect.set_options(timeout=20_000)
    yield browser
    browser.close()
    manager.stop()


@pytest.fixture(params=list(VIEWPORTS))
def viewport(request) -> str:
    return request.param


@pytest.fixture
def open_page(browser, server, viewport):
    """Opens a page in a fresh browser context (own cookies) at the viewport of the test, on
    ``server`` (the shared live server unless the module overrides that fixture)."""
    contexts = []

    def open_():
        context = browser.new_context(
            base_url=server.url,
            locale="zh-CN",
            timezone_id="Asia/Shanghai",
            accept_downloads=True,
            **VIEWPORTS[viewport],
        )
        # axe-core rides along in every page: the site's CSP (script-src 'self') refuses scripts
        # added to the page, but not the browser's own init scripts.
        context.add_init_script(path=str(AXE_JS))
        context.set_default_timeout(20_000)
        context.set_default_navigation_timeout(30_000)
        contexts.append(context)
        return context.new_page()

    yield open_
    for context in contexts:
        context.close()


class Journey:
    """Numbered screenshots of a journey's steps, and the checks every user page must pass."""

    def __init__(self, name: str, viewport: str):
        self.name = name
        self.viewport = viewport
        self.phone = viewport == "phone"
        self.folder = SCREENSHOTS / name / viewport
        shutil.rmtree(self.folder, ignore_errors=True)
        self.folder.mkdir(parents=True)
        self.step = 0
        self.started = time.monotonic()
        self.pages_checked: list[str] = []

    def shot(self, page, label: str) -> Path:
        from playwright.sync_api import Error as PlaywrightError

        self.step += 1
        path = self.folder / f"{self.step:02d}-{label}.png"
        # One pixel per CSS pixel: the phone's device scale factor would make every picture
        # four times the pixels and each screenshot about three times slower.
        # Chromium now and then answers a capture with "Unable to capture screenshot" while its
        # compositor is busy (two journeys at once on two cores): the picture is taken again.
        for attempt in range(3):
            try:
                page.screenshot(path=str(path), full_page=True, scale="css")
                break
            except PlaywrightError as exc:
                if "Unable to capture screenshot" not in str(exc) or attempt == 2:
                    raise
                page.wait_for_timeout(300)
        with (self.folder / "steps.txt").open("a", encoding="utf-8") as steps:
            steps.write(f"{path.name}\t{time.monotonic() - self.started:6.1f} s\t{page.url}\n")
        return path

    def user_page(self, page, label: str) -> None:
        """A step on a page users see: screenshot, then accessibility and (phone) layout checks."""
        page.wait_for_load_state("load")
        self.shot(page, label)
        check_accessible(page)
        if self.phone:
            check_no_horizontal_scroll(page)
        self.pages_checked.append(urlsplit(page.url).path)


def check_accessible(page) -> None:
    """axe-core on the page as it is: no violation of serious or critical impact."""
    assert page.evaluate("() => typeof window.axe !== 'undefined'"), f"axe-core did not load in {page.url}"
    violations = page.evaluate(
        """async () => {
            const result = await axe.run(document, {resultTypes: ["violations"]});
            return result.violations.map(v => ({
                id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.slice(0, 5).map(n => n.target.join(" ") + " :: " + n.failureSummary),
            }));
        }"""
    )
    serious = [v for v in violations if v["impact"] in ("serious", "critical")]
    assert not serious, f"accessibility violations on {page.url}:\n" + json.dumps(serious, ensure_ascii=False, indent=1)


def check_no_horizontal_scroll(page) -> None:
    widths = page.evaluate(
        """() => ({scroll: document.documentElement.scrollWidth, inner: window.innerWidth,
                  wide: [...document.querySelectorAll("body *")]
                    .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1)
                    .slice(0, 5).map(e => e.tagName.toLowerCase() + (e.className ? "." + e.className : ""))})"""
    )
    assert widths["scroll"] <= widths["inner"], f"{page.url} scrolls sideways on the phone: {widths}"


@pytest.fixture
def journey(request, viewport) -> Journey:
    return Journey(request.node.originalname.removeprefix("test_"), viewport)


# --- steps many journeys share ----------------------------------------------------------------


def log_in(page, person: Person, journey: Journey | None = None) -> None:
    from playwright.sync_api import expect

    page.goto("/accounts/login/")
    if journey:
        journey.user_page(page, "login")
    page.get_by_label("手机号").fill(person.mobile)
    page.get_by_label("密码", exact=True).fill(person.password)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(at_path("/"))
    expect(page.get_by_role("button", name="退出")).to_be_visible()


def staff_log_in(page, mobile: str) -> None:
    from playwright.sync_api import expect

    page.goto("/admin/login/?next=/admin/")
    page.locator("#id_username").fill(mobile)
    page.locator("#id_password").fill(STAFF_PASSWORD)
    page.locator("input[type=submit]").click()
    page.wait_for_url(re.compile(r"/admin/$"))
    expect(page.locator("#user-tools")).to_be_visible()


def at_path(path: str):
    """For ``page.wait_for_url``: the page shows ``path`` (whatever its query)."""
    return lambda url: urlsplit(url).path == path


def nav(page, label: str) -> None:
    """Follows an entry of the main navigation, as a user taps it, and waits for its page."""
    link = page.get_by_role("navigation", name="主导航").get_by_role("link", name=label, exact=True)
    target = link.get_attribute("href")
    assert urlsplit(page.url).path != target, f"already on {target}"
    link.click()
    page.wait_for_url(at_path(target))
