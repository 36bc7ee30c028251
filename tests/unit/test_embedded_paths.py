"""Which folders the embedded server's account can enter, decided before it fails."""

from __future__ import annotations

import os
import pwd
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from netterms_daemon.embedded import EmbeddedPostgres, _first_blocked
from tests.conftest import make_shared_dir


def account(uid: int, gid: int) -> pwd.struct_passwd:
    return pwd.struct_passwd(("svc", "x", uid, gid, "", "/", "/bin/false"))


@pytest.fixture
def open_dir() -> Iterator[Path]:
    """A folder whose every parent others may enter (pytest's own is private)."""
    path = make_shared_dir("netterms-test-paths-")
    yield path
    shutil.rmtree(path)


def test_first_blocked_finds_private_parent(open_dir: Path) -> None:
    """A 0700 folder owned by someone else blocks the way; others' x bit opens it."""
    private = open_dir / "private"
    inner = private / "inner"
    inner.mkdir(parents=True)
    private.chmod(0o700)
    stranger = account(uid=os.getuid() + 12345, gid=os.getgid() + 12345)

    assert _first_blocked(inner, stranger) == private
    private.chmod(0o711)
    assert _first_blocked(inner, stranger) is None


def test_first_blocked_owner_may_enter_own_folder(open_dir: Path) -> None:
    """The owner's own x bit is what counts for the owner."""
    own = open_dir / "own"
    own.mkdir(mode=0o700)

    assert _first_blocked(own, account(os.getuid(), os.getgid())) is None


def test_socket_dir_moves_out_of_long_paths(tmp_path: Path) -> None:
    """A data dir too deep for a Unix socket path gets its socket elsewhere."""
    short = EmbeddedPostgres(tmp_path / "s")
    deep = EmbeddedPostgres(tmp_path / ("d" * 120))

    assert short.socket_dir == tmp_path / "s" / "postgres"
    assert len(str(deep.socket_dir / ".s.PGSQL.5432")) < 100
    assert "postgres" not in str(deep.socket_dir.parent)
