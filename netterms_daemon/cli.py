"""The `netterms` command line."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NoReturn

import structlog

from netterms_daemon import __version__
from netterms_daemon.check import run_checks
from netterms_daemon.config import Secret, Settings, load_settings
from netterms_daemon.daemon import Daemon, run_daemon
from netterms_daemon.database import create_pool, database_url
from netterms_daemon.errors import ConfigError, NettermsError
from netterms_daemon.logs import configure_logging
from netterms_daemon.migrations import migrate

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
        "demo",
        _demo,
        "run the daemon on embedded defaults under <state dir>/demo until Ctrl-C",
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
    except NettermsError as exc:
        log.error(f"{args.command}.failed", error=str(exc))
        print(f"netterms {args.command}: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        return 130


def _secrets(settings: Settings) -> list[str]:
    found = []
    for section in (settings.database, settings.bigcommerce, settings.webhooks):
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


def _demo(settings: Settings, args: argparse.Namespace) -> int:
    demo = Settings(
        state_dir=settings.state_dir / "demo",
        http=settings.http,
        log=settings.log,
        daemon=settings.daemon,
    )
    base = f"http://{demo.http.host}:{demo.http.port}"

    def announce(daemon: Daemon) -> None:
        print(
            f"netterms {__version__} is running on an embedded PostgreSQL under "
            f"{demo.state_dir}\n"
            f"  liveness:  curl {base}/healthz\n"
            f"  readiness: curl {base}/readyz\n"
            "Press Ctrl-C to stop.",
            flush=True,
        )

    asyncio.run(run_daemon(demo, on_ready=announce))
    return EXIT_OK
