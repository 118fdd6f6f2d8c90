"""Alembic environment and revisions, installed as ``app.migrations``."""
