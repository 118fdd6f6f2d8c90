"""The command-line interface: scriptable, one line per error, distinct exit codes."""
