"""``python -m tests.targets.vulnapp --host 127.0.0.1 --port P [options]``."""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import tempfile
from pathlib import Path

from tests.targets.vulnapp.config import AppConfig, Dsn, NotLoopback, require_loopback
from tests.targets.vulnapp.server import serve


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(
        prog="python -m tests.targets.vulnapp",
        description="A deliberately vulnerable web application (loopback only).",
    )
    parser.add_argument("--host", default="127.0.0.1", help="127.0.0.1 or ::1")
    parser.add_argument("--port", type=int, default=8080, help="0 picks a free port")
    parser.add_argument("--mysql-dsn", help="mysql://user:password@127.0.0.1:3306/database")
    parser.add_argument("--pg-dsn", help="postgresql://user:password@127.0.0.1:5432/database")
    parser.add_argument("--data-dir", type=Path, help="default: a temporary directory")
    parser.add_argument(
        "--test-secret",
        default=os.environ.get("VULNAPP_TEST_SECRET", ""),
        help="opens /__test__/ to requests with this X-Vulnapp-Secret header",
    )
    parser.add_argument("--slow-seconds", type=float, default=5.0)
    parser.add_argument("--session-ttl", type=float, default=1800.0, help="0: never expires")
    parser.add_argument(
        "--session-max-requests", type=int, default=0, help="0: no limit per session"
    )
    parser.add_argument("--huge-bytes", type=int, default=1 << 30)
    parser.add_argument("--hide-hostile", action="store_true")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the application until interrupted."""
    args = parse_args(argv)
    try:
        require_loopback(args.host)
        mysql = Dsn.parse(args.mysql_dsn, 3306) if args.mysql_dsn else None
        postgres = Dsn.parse(args.pg_dsn, 5432) if args.pg_dsn else None
    except (NotLoopback, ValueError) as exc:
        print(f"refused: {exc}", file=sys.stderr)
        return 2
    if args.host not in ("127.0.0.1", "::1"):
        print("refused: --host must be 127.0.0.1 or ::1", file=sys.stderr)
        return 2
    temporary = args.data_dir is None
    data_dir = Path(tempfile.mkdtemp(prefix="vulnapp-")) if temporary else args.data_dir
    config = AppConfig(
        data_dir=data_dir,
        mysql=mysql,
        postgres=postgres,
        test_secret=args.test_secret,
        slow_seconds=args.slow_seconds,
        session_ttl=args.session_ttl,
        session_max_requests=args.session_max_requests,
        huge_bytes=args.huge_bytes,
        hide_hostile=args.hide_hostile,
    )
    try:
        asyncio.run(serve(config, args.host, args.port))
    except KeyboardInterrupt:
        pass
    finally:
        if temporary:
            shutil.rmtree(data_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
