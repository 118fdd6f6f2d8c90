"""Icons and themes, installed as ``app.resources``."""
