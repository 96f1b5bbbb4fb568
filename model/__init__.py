"""The music models. Knows nothing of Discord, SQLite or audio."""
