"""Database access: the embedded or shared PostgreSQL, sessions, schema version and change notices."""

from omnidesk.db.engine import Database, open_database

__all__ = ["Database", "open_database"]
