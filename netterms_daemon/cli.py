"""The `netterms` command line."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
import zoneinfo
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import NoReturn

import asyncpg
import structlog

from netterms_daemon import __version__
from netterms_daemon.admin import (
    customer_statement,
    list_events,
    orders_report,
    reconcile_once,
    replay_events,
    report_aging,
    run_backfill,
    setup_store,
    show_order,
)
from netterms_daemon.check import run_checks
from netterms_daemon.config import Secret, Settings, load_settings
from netterms_daemon.daemon import run_daemon
from netterms_daemon.database import create_pool, database_url
from netterms_daemon.errors import ConfigError, NettermsError
from netterms_daemon.inbox import STATES
from netterms_daemon.logs import configure_logging
from netterms_daemon.migrations import migrate
from netterms_daemon.preview import add_arguments as add_preview_arguments
from netterms_daemon.preview import run_preview
from netterms_daemon.report_render import STATEMENT_FORMATS, TABLE_FORMATS
from netterms_daemon.reports import ORDER_STATES

log = structlog.get_logger(__name__)

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2

Command = Callable[[Settings, argparse.Namespace], int]


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors that point to --help."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    """The parser for every subcommand, each taking --config after its name."""
    common = _Parser(add_help=False)
    common.add_argument(
        "--config",
        type=Path,
        metavar="PATH",
        help="TOML settings file (default: $NETTERMS_CONFIG, else "
        "/etc/netterms/netterms.toml if it exists, else built-in defaults)",
    )

    parser = _Parser(
        prog="netterms",
        description="Net payment terms for BigCommerce stores.",
        epilog="Settings come from the TOML file and NETTERMS_<SECTION>_<KEY> "
        "variables; `netterms check` tells what is wrong with them.",
    )
    parser.add_argument(
        "--version", action="version", version=f"netterms {__version__}"
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def add(name: str, handler: Command, help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(
            name, parents=[common], help=help_text, description=help_text
        )
        sub.set_defaults(handler=handler)
        return sub

    add("run", _run, "run the daemon until SIGTERM or SIGINT")
    add("migrate", _migrate, "bring the database schema up to date and exit")
    add(
        "check",
        _check,
        "check settings and database; one line per problem, exit 1 if any",
    )
    add(
        "setup",
        _setup,
        "create the configured customer groups and register the daemon's webhooks",
    )

    terms = add("terms", _no_subcommand, "terms policies")
    terms_commands = terms.add_subparsers(
        dest="terms_command", metavar="SUBCOMMAND", parser_class=_Parser
    )
    preview = terms_commands.add_parser(
        "preview",
        parents=[common],
        help="print the schedule a new order would get, touching nothing",
        description="Print the schedule a new order would get under a policy.",
    )
    add_preview_arguments(preview)
    preview.set_defaults(handler=lambda s, a: run_preview(s, a, sys.stdout))

    events = add("events", _no_subcommand, "the webhook inbox")
    events_commands = events.add_subparsers(
        dest="events_command", metavar="SUBCOMMAND", parser_class=_Parser
    )
    listing = events_commands.add_parser(
        "list", parents=[common], help="list the newest inbox events"
    )
    listing.add_argument("--state", choices=STATES, help="only events in this state")
    listing.add_argument("--limit", type=int, default=50, help="how many (default 50)")
    listing.set_defaults(handler=_events_list)
    replay = events_commands.add_parser(
        "replay", parents=[common], help="process an event again (or every dead one)"
    )
    which = replay.add_mutually_exclusive_group(required=True)
    which.add_argument("event_id", nargs="?", type=int, help="the event's id")
    which.add_argument("--dead", action="store_true", help="every dead-lettered event")
    replay.set_defaults(handler=_events_replay)

    orders = add(
        "orders",
        _orders_list,
        "list tracked orders (or: orders show ID for one order's history)",
    )
    orders.add_argument(
        "--state", choices=ORDER_STATES, help="only orders in this state"
    )
    orders.add_argument(
        "--customer", type=int, metavar="ID", help="only this customer's"
    )
    orders.add_argument("--limit", type=int, default=1000, help="at most this many")
    orders.add_argument("--format", choices=TABLE_FORMATS, default="table")
    orders_commands = orders.add_subparsers(
        dest="orders_command", metavar="SUBCOMMAND", parser_class=_Parser
    )
    show = orders_commands.add_parser(
        "show", parents=[common], help="an order's tracked state and history"
    )
    show.add_argument("order_id", type=int, help="the BigCommerce order id")
    show.add_argument("--format", choices=("text", "json"), default="text")
    show.set_defaults(handler=_orders_show)

    report = add("report", _no_subcommand, "reports from netterms' own records")
    report_commands = report.add_subparsers(
        dest="report_command", metavar="SUBCOMMAND", parser_class=_Parser
    )
    aging_report = report_commands.add_parser(
        "aging",
        parents=[common],
        help="open balances by days past due, per customer and currency",
    )
    aging_report.add_argument("--format", choices=TABLE_FORMATS, default="table")
    aging_report.set_defaults(handler=_report_aging)

    statement_command = add("statement", _statement, "one customer's statement")
    statement_command.add_argument("customer_id", type=int, help="the customer's id")
    statement_command.add_argument(
        "--paid-within-days", type=int, default=90, help="paid orders shown (days)"
    )
    statement_command.add_argument(
        "--format", choices=STATEMENT_FORMATS, default="text"
    )

    reconcile = add("reconcile", _reconcile, "run one reconciler pass now")
    reconcile.add_argument(
        "--once", action="store_true", required=True, help="one pass, then exit"
    )

    backfill = add(
        "backfill",
        _backfill,
        "handle the orders created since a date, as webhooks would have",
    )
    backfill.add_argument(
        "--since", required=True, type=_date_arg, metavar="YYYY-MM-DD",
        help="orders created on or after this day (UTC)",
    )  # fmt: skip
    backfill.add_argument(
        "--dry-run", action="store_true", help="say what would change, change nothing"
    )

    simulator = add(
        "simulator",
        _simulator,
        "serve a simulated BigCommerce store on loopback, for trying netterms",
    )
    simulator.add_argument("--host", default="127.0.0.1", help="listen address")
    simulator.add_argument("--port", type=int, default=8900, help="listen port")
    simulator.add_argument("--store-hash", default="sim123", help="the store hash")
    simulator.add_argument(
        "--access-token", default="simulator-token", help="the X-Auth-Token it accepts"
    )
    simulator.add_argument(
        "--seed", action="store_true", help="start with a Net 30 group and customers"
    )
    simulator.add_argument(
        "--time-zone", default="America/Chicago", help="the store's time zone"
    )
    simulator.add_argument(
        "--quota", type=int, default=150, help="API requests allowed per window"
    )
    simulator.add_argument(
        "--window-s", type=float, default=30.0, help="the rate-limit window in seconds"
    )
    simulator.add_argument(
        "--speed",
        type=float,
        default=1.0,
        help="store seconds per real second (webhook retries, dates)",
    )
    demo = add(
        "demo",
        _demo,
        "play a few months of net terms on a simulated store, then show the aging",
    )
    demo.add_argument(
        "--keep-running",
        action="store_true",
        help="leave the store and the daemon up afterwards, and print URLs to try",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse arguments, load settings, run the command; return the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)

    try:
        settings = load_settings(args.config)
    except ConfigError as exc:
        for problem in exc.problems:
            print(f"netterms {args.command}: config: {problem}", file=sys.stderr)
        return EXIT_USAGE

    configure_logging(
        settings.log.level, settings.log.format, secrets=_secrets(settings)
    )
    for warning in settings.warnings:
        log.warning("config.ignored_variable", detail=warning)

    try:
        handler: Command = args.handler
        return handler(settings, args)
    except ConfigError as exc:
        for problem in exc.problems:
            print(f"netterms {args.command}: {problem}", file=sys.stderr)
        return EXIT_USAGE
    except NettermsError as exc:
        log.error(f"{args.command}.failed", error=str(exc))
        print(f"netterms {args.command}: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        return 130
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        log.error(f"{args.command}.failed", error=f"{type(exc).__name__}: {exc}")
        print(f"netterms {args.command}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except Exception as exc:
        log.exception(f"{args.command}.crashed")
        print(
            f"netterms {args.command}: unexpected {type(exc).__name__}: {exc} "
            "(the log has the details)",
            file=sys.stderr,
        )
        return EXIT_FAILED


def _secrets(settings: Settings) -> list[str]:
    found = []
    for section in (
        settings.database,
        settings.bigcommerce,
        settings.webhooks,
        settings.api,
    ):
        for value in vars(section).values():
            if isinstance(value, Secret):
                found.append(value.reveal())
    return found


def _run(settings: Settings, args: argparse.Namespace) -> int:
    try:
        asyncio.run(run_daemon(settings))
    except OSError as exc:
        # Typically the port is taken; the message says which.
        log.error("run.failed", error=str(exc))
        print(f"netterms run: {exc}", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


def _migrate(settings: Settings, args: argparse.Namespace) -> int:
    async def go() -> None:
        async with database_url(settings) as url:
            pool = await create_pool(url, settings.database)
            try:
                async with pool.acquire() as connection:
                    report = await migrate(connection)
            finally:
                await pool.close()
        applied = ", ".join(map(str, report.applied)) or "none"
        print(f"schema at version {report.current}; applied: {applied}")

    asyncio.run(go())
    return EXIT_OK


def _check(settings: Settings, args: argparse.Namespace) -> int:
    findings = asyncio.run(run_checks(settings))
    for finding in findings:
        print(finding.render())
    return EXIT_OK if all(f.ok for f in findings) else EXIT_FAILED


def _no_subcommand(settings: Settings, args: argparse.Namespace) -> int:
    print(f"netterms {args.command}: name a subcommand (see --help)", file=sys.stderr)
    return EXIT_USAGE


def _setup(settings: Settings, args: argparse.Namespace) -> int:
    return asyncio.run(setup_store(settings, sys.stdout))


def _events_list(settings: Settings, args: argparse.Namespace) -> int:
    return asyncio.run(list_events(settings, args.state, args.limit, sys.stdout))


def _events_replay(settings: Settings, args: argparse.Namespace) -> int:
    return asyncio.run(replay_events(settings, args.event_id, args.dead, sys.stdout))


def _date_arg(raw: str) -> datetime:
    try:
        return datetime.combine(
            date.fromisoformat(raw), datetime.min.time(), tzinfo=UTC
        )
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{raw!r} is not a date such as 2026-01-31"
        ) from None


def _orders_list(settings: Settings, args: argparse.Namespace) -> int:
    if args.limit < 1:
        print("netterms orders: --limit must be at least 1", file=sys.stderr)
        return EXIT_USAGE
    return asyncio.run(
        orders_report(
            settings, args.state, args.customer, args.limit, args.format, sys.stdout
        )
    )


def _report_aging(settings: Settings, args: argparse.Namespace) -> int:
    return asyncio.run(report_aging(settings, args.format, sys.stdout))


def _statement(settings: Settings, args: argparse.Namespace) -> int:
    return asyncio.run(
        customer_statement(
            settings, args.customer_id, args.paid_within_days, args.format, sys.stdout
        )
    )


def _reconcile(settings: Settings, args: argparse.Namespace) -> int:
    return asyncio.run(reconcile_once(settings, sys.stdout))


def _backfill(settings: Settings, args: argparse.Namespace) -> int:
    return asyncio.run(run_backfill(settings, args.since, args.dry_run, sys.stdout))


def _orders_show(settings: Settings, args: argparse.Namespace) -> int:
    return asyncio.run(
        show_order(settings, args.order_id, sys.stdout, as_json=args.format == "json")
    )


def _simulator(settings: Settings, args: argparse.Namespace) -> int:
    from netterms_daemon.simulator.core import StoreOptions
    from netterms_daemon.simulator.server import Simulator

    problems = _simulator_problems(args)
    if problems:
        for problem in problems:
            print(f"netterms simulator: {problem}", file=sys.stderr)
        return EXIT_USAGE

    options = StoreOptions(
        store_hash=args.store_hash,
        access_token=args.access_token,
        time_zone=args.time_zone,
        quota=args.quota,
        window_s=args.window_s,
        speed=args.speed,
    )

    async def serve() -> None:
        simulator = Simulator(options, host=args.host, port=args.port)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        async with simulator:
            if args.seed:
                simulator.store.seed()
            print(
                f"simulated store: {simulator.api_root}\n"
                f"access token:    {args.access_token}\n"
                f"control API:     {simulator.url}/__simulator/status\n"
                "Press Ctrl-C to stop.",
                flush=True,
            )
            await stop.wait()

    try:
        asyncio.run(serve())
    except OSError as exc:
        print(f"netterms simulator: {exc}", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


def _simulator_problems(args: argparse.Namespace) -> list[str]:
    problems = []
    if not 0 <= args.port <= 65535:
        problems.append(f"--port must be between 0 and 65535, got {args.port}")
    if args.quota < 1 or args.window_s <= 0 or args.speed <= 0:
        problems.append("--quota, --window-s and --speed must be positive")
    if not args.store_hash.isalnum():
        problems.append(
            f"--store-hash must be letters and digits, got {args.store_hash!r}"
        )
    try:
        zoneinfo.ZoneInfo(args.time_zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        problems.append(f"--time-zone {args.time_zone!r} is not a known time zone")
    return problems


def _demo(settings: Settings, args: argparse.Namespace) -> int:
    from netterms_daemon.demo import run_demo

    # The story goes to stdout; only errors belong beside it on a terminal.
    if settings.log.level != "debug":
        configure_logging("error", settings.log.format, secrets=_secrets(settings))

    async def play() -> int:
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, _cancel, task)
        return await run_demo(settings, args.keep_running, sys.stdout)

    try:
        return asyncio.run(play())
    except asyncio.CancelledError:
        return EXIT_OK


def _cancel(task: asyncio.Task[int] | None) -> None:
    if task is not None:
        task.cancel()
