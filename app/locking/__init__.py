"""The editor lock: one editing session per database, safe on network shares."""
