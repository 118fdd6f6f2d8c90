"""Database infrastructure: models, engine and pragmas, transactions, migrations."""
