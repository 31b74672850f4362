"""steps layer."""
