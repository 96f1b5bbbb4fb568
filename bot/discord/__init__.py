"""The Discord front end: the only code that imports discord.

app.py       TunesmithBot (start-up, command sync, heartbeat, errors, shutdown), make_bot
commands.py  every slash command and button handler, as methods of one cog
buttons.py   the one DynamicItem button class (action + tune id in its custom_id) and tune_view
replies.py   bot/flow.py's Reply for an interaction and for a `!compose` chat message
embeds.py    what the messages look like
main.py      `tunesmith run` and `tunesmith sync`
"""
