"""OmniDesk: back-office suite for a telecom operator and its public-warning office."""

__version__ = "0.1.0"
