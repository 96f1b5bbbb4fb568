"""Tunesmith: the bot, its job engine, rendering and storage. `model/` holds the music models."""
