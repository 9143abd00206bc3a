"""`loyalty import orders|customers FILE.csv`: the command line around app.imports."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import TextIO

from app.settings import Settings


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("import", help="backfill customers or orders from a store's CSV export")
    kinds = parser.add_subparsers(dest="kind", required=True)
    for kind, text in (("orders", "orders, one row per order line"), ("customers", "customers, one row each")):
        sub = kinds.add_parser(kind, help=text)
        sub.add_argument("file", type=Path)
        sub.add_argument(
            "--format", default="loyalty", choices=("loyalty", "shopify", "woocommerce"), help="the export's shape"
        )
        sub.add_argument("--mapping", type=Path, help="a YAML file of field: column (docs/imports.md)")
        if kind == "orders":
            sub.add_argument(
                "--award", action="store_true", help="award points under the rules in force, as of each order's date"
            )


class ProgressBar:
    """A one-line bar on a terminal (stderr); nothing when stderr is a file or a pipe."""

    def __init__(self, out: TextIO = sys.stderr) -> None:
        self.out = out
        self.started = time.monotonic()
        self.shown = out.isatty()

    def __call__(self, done: int, total: int) -> None:
        if not self.shown or not total:
            return
        share = min(done / total, 1.0)
        filled = int(share * 30)
        rate = done / max(time.monotonic() - self.started, 1e-6)
        self.out.write(f"\r[{'#' * filled}{'.' * (30 - filled)}] {share:6.1%}  {done:,}/{total:,} lines  {rate:,.0f}/s")
        self.out.flush()

    def close(self) -> None:
        if self.shown:
            self.out.write("\n")


async def run(settings: Settings, args: argparse.Namespace) -> int:
    from app import imports
    from app.bootstrap import running_services
    from app.import_formats import columns
    from domain.errors import DomainError

    if not args.file.is_file():
        print(f"loyalty: {args.file}: no such file", file=sys.stderr)
        return 2
    bar = ProgressBar()
    async with running_services(settings) as services:
        try:
            cols = columns(args.kind, args.format, args.mapping)
            if args.kind == "orders":
                report = await imports.import_orders(
                    services.uow, services.program, args.file, cols, award=args.award, progress=bar
                )
            else:
                report = await imports.import_customers(services.uow, services.program, args.file, cols, progress=bar)
        except DomainError as error:
            bar.close()
            print(f"loyalty: {error.message}", file=sys.stderr)
            return 2
    bar.close()
    for line, message in report.bad:
        print(f"{args.file}:{line}: {message}", file=sys.stderr)
    print(f"{args.kind}: {report.imported} imported, {report.skipped} already there, {len(report.bad)} bad rows")
    return 1 if report.bad else 0
