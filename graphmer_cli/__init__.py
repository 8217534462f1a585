"""graphmer graphmer_cli package."""
