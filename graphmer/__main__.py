"""`python -m graphmer`: the `graphmer` command."""
from graphmer.cli.main import main

main()
