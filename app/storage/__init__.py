"""Files beside the database: atomic writes and attachment storage."""
