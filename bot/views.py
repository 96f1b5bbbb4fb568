"""The buttons under a posted tune: 1-5 stars, Variation, Continue, Delete.

They are `discord.ui.DynamicItem`s: the tune id lives in the custom_id ("ts:rate:<tune>:<stars>"), so a
click on a message posted before a restart still finds its tune. The work behind each click is done by the
bot (`interaction.client`, a bot.discord_app.TunesmithBot); this file only says what a button is.
"""
from __future__ import annotations

import re

import discord

TUNE_ID = r"(?P<tune>[A-Za-z0-9_-]{1,40})"  # store.new_id() ids; bounded so custom_id stays <= 100 chars
STAR_EMOJI = "\N{WHITE MEDIUM STAR}"


def _tune_id(match: re.Match[str]) -> str:
    return match["tune"]


class RateButton(discord.ui.DynamicItem[discord.ui.Button], template=r"ts:rate:" + TUNE_ID + r":(?P<stars>[1-5])"):
    def __init__(self, tune_id: str, stars: int) -> None:
        self.tune_id, self.stars = tune_id, stars
        super().__init__(discord.ui.Button(label=str(stars), emoji=STAR_EMOJI, style=discord.ButtonStyle.secondary,
                                           custom_id=f"ts:rate:{tune_id}:{stars}", row=0))

    @classmethod
    async def from_custom_id(cls, interaction, item, match):  # noqa: D102 (discord.py hook)
        return cls(_tune_id(match), int(match["stars"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        await interaction.client.on_rate_click(interaction, self.tune_id, self.stars)


class VariationButton(discord.ui.DynamicItem[discord.ui.Button], template=r"ts:var:" + TUNE_ID):
    def __init__(self, tune_id: str) -> None:
        self.tune_id = tune_id
        super().__init__(discord.ui.Button(label="Variation", emoji="\N{ANTICLOCKWISE DOWNWARDS AND UPWARDS OPEN CIRCLE ARROWS}",
                                           style=discord.ButtonStyle.primary, custom_id=f"ts:var:{tune_id}", row=1))

    @classmethod
    async def from_custom_id(cls, interaction, item, match):
        return cls(_tune_id(match))

    async def callback(self, interaction: discord.Interaction) -> None:
        await interaction.client.on_variation_click(interaction, self.tune_id)


class ContinueButton(discord.ui.DynamicItem[discord.ui.Button], template=r"ts:cont:" + TUNE_ID):
    def __init__(self, tune_id: str) -> None:
        self.tune_id = tune_id
        super().__init__(discord.ui.Button(label="Continue", emoji="\N{BLACK RIGHT-POINTING TRIANGLE}",
                                           style=discord.ButtonStyle.primary, custom_id=f"ts:cont:{tune_id}", row=1))

    @classmethod
    async def from_custom_id(cls, interaction, item, match):
        return cls(_tune_id(match))

    async def callback(self, interaction: discord.Interaction) -> None:
        await interaction.client.on_continue_click(interaction, self.tune_id)


class DeleteButton(discord.ui.DynamicItem[discord.ui.Button], template=r"ts:del:" + TUNE_ID):
    def __init__(self, tune_id: str) -> None:
        self.tune_id = tune_id
        super().__init__(discord.ui.Button(label="Delete", emoji="\N{WASTEBASKET}", style=discord.ButtonStyle.danger,
                                           custom_id=f"ts:del:{tune_id}", row=1))

    @classmethod
    async def from_custom_id(cls, interaction, item, match):
        return cls(_tune_id(match))

    async def callback(self, interaction: discord.Interaction) -> None:
        await interaction.client.on_delete_click(interaction, self.tune_id)


DYNAMIC_ITEMS = (RateButton, VariationButton, ContinueButton, DeleteButton)


def tune_view(tune_id: str, *, can_continue: bool = True) -> discord.ui.View:
    """The buttons for one posted tune (stars on the first row; Variation, Continue, Delete on the second).

    can_continue=False leaves out Continue (the note model's MusicXML cannot be continued as ABC)."""
    view = discord.ui.View(timeout=None)
    for stars in range(1, 6):
        view.add_item(RateButton(tune_id, stars))
    view.add_item(VariationButton(tune_id))
    if can_continue:
        view.add_item(ContinueButton(tune_id))
    view.add_item(DeleteButton(tune_id))
    return view
