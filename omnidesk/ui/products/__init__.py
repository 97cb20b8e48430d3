"""The products screens."""
