"""Inventory: item templates, stock items and their states, safe allocation, CSV import, QR labels."""
