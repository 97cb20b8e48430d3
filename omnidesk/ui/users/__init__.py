"""The Users & Roles workspace."""
