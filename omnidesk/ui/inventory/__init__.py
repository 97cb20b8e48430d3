"""The inventory screens."""
