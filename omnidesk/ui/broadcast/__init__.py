"""The Broadcast workspace (issue 8): compose from templates with live per-language counters; the
targeting map, review, monitor and history views come in later sessions."""
