"""The buttons under a posted tune (1-5 stars, Variation, Continue, Delete) and under a tune on its way
(Cancel): one DynamicItem class.

Its custom_id carries the action and the tune id ("ts:rate:<tune>:<stars>", "ts:var:<tune>",
"ts:cont:<tune>", "ts:del:<tune>"; "ts:cancel:<job>" carries the job id), so a click on a message
posted before a restart still finds its tune. The work behind a click is the commands cog's
(bot/discord/commands.py, `on_button`).
"""

from __future__ import annotations

import discord

STAR_EMOJI = "\N{WHITE MEDIUM STAR}"
TUNE_ID = r"[A-Za-z0-9_-]{1,40}"  # store ids; bounded so custom_id stays <= 100 chars
TEMPLATE = rf"ts:(?P<action>(?P<rate>rate)|var|cont|del|cancel):(?P<tune>{TUNE_ID})(?(rate):(?P<stars>[1-5]))"

# action -> (label, emoji, style, row)
LOOKS = {
    "rate": (None, STAR_EMOJI, discord.ButtonStyle.secondary, 0),
    "var": ("Variation", "\N{ANTICLOCKWISE DOWNWARDS AND UPWARDS OPEN CIRCLE ARROWS}", discord.ButtonStyle.primary, 1),
    "cont": ("Continue", "\N{BLACK RIGHT-POINTING TRIANGLE}", discord.ButtonStyle.primary, 1),
    "del": ("Delete", "\N{WASTEBASKET}", discord.ButtonStyle.danger, 1),
    "cancel": ("Cancel", "\N{HEAVY MULTIPLICATION X}", discord.ButtonStyle.secondary, 0),
}


class TuneButton(discord.ui.DynamicItem[discord.ui.Button], template=TEMPLATE):
    def __init__(self, action: str, tune_id: str, stars: int | None = None) -> None:
        self.action, self.tune_id, self.stars = action, tune_id, stars
        label, emoji, style, row = LOOKS[action]
        custom_id = f"ts:{action}:{tune_id}" + (f":{stars}" if action == "rate" else "")
        super().__init__(
            discord.ui.Button(label=label or str(stars), emoji=emoji, style=style, custom_id=custom_id, row=row)
        )

    @classmethod
    async def from_custom_id(cls, interaction, item, match):  # discord.py's hook
        return cls(match["action"], match["tune"], int(match["stars"]) if match["stars"] else None)

    async def callback(self, interaction: discord.Interaction) -> None:
        await _cog(interaction).on_button(interaction, self.action, self.tune_id, self.stars)


COG_NAME = "Tunesmith"  # the cog that answers the buttons (bot/discord/commands.py TuneCommands)


def _cog(interaction: discord.Interaction):
    return interaction.client.get_cog(COG_NAME)


def tune_view(tune_id: str, *, can_continue: bool = True) -> discord.ui.View:
    """Stars on the first row; Variation, Continue, Delete on the second (no Continue for MusicXML)."""
    view = discord.ui.View(timeout=None)
    for stars in range(1, 6):
        view.add_item(TuneButton("rate", tune_id, stars))
    for action in ("var", "cont", "del"):
        if action != "cont" or can_continue:
            view.add_item(TuneButton(action, tune_id))
    return view


def cancel_view(job_id: str) -> discord.ui.View:
    """The Cancel button under a tune that waits or composes."""
    view = discord.ui.View(timeout=None)
    view.add_item(TuneButton("cancel", job_id))
    return view
