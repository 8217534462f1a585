"""Options shared by the `graphmer` commands."""
from __future__ import annotations

import click

repo_option = click.option(
    "--repo",
    "repo",
    default=".",
    envvar="GRAPHMER_REPO",
    show_default=True,
    type=click.Path(file_okay=False),
    help="Folder inside the indexed repository; the nearest .graphmer/ at or above it is used.",
)
json_option = click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
