"""Per-user settings and folders (platformdirs), written atomically."""
