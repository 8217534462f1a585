"""graphmer index package."""
