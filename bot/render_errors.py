"""The one error type of the rendering steps (bot/abc2midi.py, bot/audio.py, bot/sheet.py).

Kept in its own file so each step can raise it without importing the others; bot/render.py
re-exports it as `bot.render.RenderError`.
"""
from __future__ import annotations


class RenderError(ValueError):
    """A tune could not be rendered. The message names the problem and is safe to show a user."""
