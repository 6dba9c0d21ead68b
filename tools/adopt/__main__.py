"""``python -m tools.adopt adopt|update …``: the entry point of the two Make targets."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tools.adopt.names import BadName, check
from tools.adopt.tree import Refused, adopt
from tools.adopt.update import Conflicts, update


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.adopt", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    adopting = commands.add_parser("adopt", help="rename this template clone into a project")
    adopting.add_argument("--name", required=True, help="DNS label, e.g. acme-orders")
    adopting.add_argument("--group", required=True, help="API group, e.g. orders.acme.io")
    adopting.add_argument("--kind", required=True, help="custom resource kind, e.g. OrderService")
    adopting.add_argument(
        "--dry-run",
        action="store_true",
        help="print the token map found in the tree, write nothing",
    )
    updating = commands.add_parser("update", help="replay a newer template onto this project")
    updating.add_argument("--from", dest="source", required=True, help="template path or URL")
    updating.add_argument("--ref", default="HEAD", help="template branch, tag or commit")
    parser.add_argument("--root", type=Path, default=Path.cwd(), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    try:
        if args.command == "adopt":
            names = check(args.name, args.group, args.kind)
            print(adopt(args.root, names, dry_run=args.dry_run))
        else:
            print(update(args.root, args.source, args.ref))
    except (BadName, Refused) as error:
        print(f"{parser.prog} {args.command}: {error}", file=sys.stderr)
        return 2
    except Conflicts as error:
        print(f"{parser.prog} {args.command}: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
