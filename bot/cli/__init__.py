"""The `tunesmith` command: a small dispatcher. Each subcommand lives with the code it drives and
parses its own arguments (`main(argv) -> exit code`), so this file stays a table."""

from __future__ import annotations

import importlib
import sys

# name: (module, function, one-line help). The function takes the remaining argv, returns an exit code.
COMMANDS: dict[str, tuple[str, str, str]] = {
    "compose": ("bot.cli.compose", "main", "compose a tune into files (tune.abc, .mid, .mp3, .png)"),
    "render": ("bot.cli.render", "main", "render an ABC file to MIDI, MP3 and sheet music"),
    "run": ("bot.discord.main", "main", "run the Discord bot (token from DISCORD_TOKEN)"),
    "sync": ("bot.discord.main", "sync_main", "push the slash commands to Discord now"),
    "worker": ("bot.cli.worker", "main", "compose for a bot with TUNESMITH_BROKER_URL set (Celery on Redis)"),
    "train": ("bot.cli.train", "main", "train a model: `train abc ...` or `train notes ...`"),
    "eval": ("bot.cli.train", "eval_main", "evaluate a model: `eval abc ...` or `eval notes ...`"),
    "export": ("bot.export", "main", "export the feedback dataset (ratings) as JSONL or ABC"),
    "finetune": ("bot.finetune", "main", "fine-tune the ABC model on well-rated tunes"),
    "stats": ("bot.stats", "main", "tunes, ratings, styles, failures, job times, ratings per model version"),
    "ab": ("bot.ab", "main", "A/B test a fine-tuned ABC model: `ab set PATH --share 0.5`, `ab off`, `ab show`"),
    "doctor": ("bot.doctor", "main", "check every part of the installation and show the settings"),
    "backup": ("bot.backup", "main", "a consistent copy of the database while the bot runs"),
}


def usage() -> str:
    width = max(map(len, COMMANDS))
    lines = ["usage: tunesmith COMMAND [options]   (tunesmith COMMAND --help for its options)", "", "commands:"]
    lines += [f"  {name:<{width}}  {info[2]}" for name, info in COMMANDS.items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(usage())
        return 0
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        print(f"tunesmith: unknown command '{name}'\n\n{usage()}", file=sys.stderr)
        return 2
    module_name, func_name, _ = COMMANDS[name]
    func = getattr(importlib.import_module(module_name), func_name)
    try:
        return int(func(rest) or 0)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
