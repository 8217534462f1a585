"""graphmer model package."""
