"""Rate plans with prefix rates, call detail records (CDRs), rating by longest prefix, and usage reports."""
