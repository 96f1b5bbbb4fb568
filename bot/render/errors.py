"""The one error type of the rendering steps (bot/render/abc2midi.py, bot/render/audio.py, bot/render/sheet.py).

Kept in its own file so each step can raise it without importing the others; bot/render/renderer.py
re-exports it as `bot.render.RenderError`.
"""

from __future__ import annotations


class RenderError(ValueError):
    """A tune could not be rendered. The message names the problem and is safe to show a user."""
