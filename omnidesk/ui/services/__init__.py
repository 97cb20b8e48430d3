"""The services screens."""
