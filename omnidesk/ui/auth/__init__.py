"""Signing in, two-factor enrolment and the "My account" menu."""
