#!/usr/bin/env python3
"""Regenerate the README's table of Secrets from the inventory of every environment's render.

    .venv/bin/python scripts/readme_secrets.py           # rewrite the table in README.md
    .venv/bin/python scripts/readme_secrets.py --check   # exit 1 if README.md's table is not what dist/ gives

The table sits between the two marker comments below; everything else in the README is left as it is.
It is read from the committed render (dist/), so render first.
"""

import argparse
import sys
from pathlib import Path

import yaml

from floe.security.secrets import inventory, markdown_table

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
START, END = "<!-- secrets-table:start -->\n", "<!-- secrets-table:end -->\n"


def rendered(environment: str) -> list[dict]:
    return [yaml.load(path.read_text(), Loader=yaml.CSafeLoader)
            for path in sorted((ROOT / "dist" / environment).rglob("*.yaml")) if path.name != "kustomization.yaml"]


def with_table(readme: str, table: str) -> str:
    head, _, rest = readme.partition(START)
    _, _, tail = rest.partition(END)
    return f"{head}{START}{table}{END}{tail}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare only; exit 1 on a difference")
    check = parser.parse_args().check
    environments = sorted(path.name for path in (ROOT / "dist").iterdir() if path.is_dir() and path.name != "gitops")
    table = markdown_table({name: inventory(rendered(name)) for name in environments})
    readme = README.read_text()
    if START not in readme or END not in readme:
        print(f"error: {README.name} lacks the markers {START.strip()} and {END.strip()}", file=sys.stderr)
        return 2
    expected = with_table(readme, table)
    if check:
        if expected != readme:
            print(f"error: the Secrets table in {README.name} is stale: run scripts/readme_secrets.py", file=sys.stderr)
            return 1
        return 0
    README.write_text(expected)
    return 0


if __name__ == "__main__":
    sys.exit(main())
