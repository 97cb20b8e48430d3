"""Embedded Cell Broadcast Centre: CBSP and SBc-AP codecs, peer links and warning state machines (no Qt)."""
