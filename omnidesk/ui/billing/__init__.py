"""The Billing tab: transactions and invoices, system-wide and per customer (issue 5)."""
