"""Repositories: SQLAlchemy queries and persistence, one per aggregate."""
