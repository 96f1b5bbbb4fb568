"""A simulated community for `tunesmith eval feedback`: people on two servers ask for tunes and rate
what others asked for by a hidden taste, through the real Store API (the same calls the bot makes).

Tastes (the trait each one likes; model/abc/traits.py measures them):
    minor       prefers minor and dorian tunes
    repetition  prefers tunes that repeat bars (a bar equal to an earlier one)
    narrow      prefers a narrow range (model.abc.traits.NARROW_STEPS scale steps or fewer)
    random      the control: likes a random RANDOM_LIKED share of the tunes, whatever they are (what
                fine-tuning does to the traits on its own, e.g. by mixing in corpus tunes)

Each tune gets VOTES ratings from people on its own server other than the requester: about 4.6 stars
when it has the trait, 2.1 when not, with noise (so some liked tunes lack it and some disliked ones
have it). Half the requesters also give their own tune 5 stars: a self-vote, which the export and
fine-tuning leave out, as they would on a real server.
"""

from __future__ import annotations

import random

from bot.artifacts import TuneFacts

TASTES = {"minor": "minor", "repetition": "repetitive", "narrow": "narrow", "random": None}  # taste -> trait
RANDOM_LIKED = 0.25
SERVERS = (101, 202)  # two simulated servers
PEOPLE = 8  # on each server
VOTES = 3  # ratings per tune from other people
LIKED, DISLIKED, NOISE = 4.6, 2.1, 0.8  # mean stars with / without the trait, and their spread
SELF_VOTE_SHARE = 0.5


def person(server: int, i: int) -> int:
    return server * 1000 + i


def stars(has_trait: bool, rng: random.Random) -> int:
    value = rng.gauss(LIKED if has_trait else DISLIKED, NOISE)
    return int(min(5, max(1, round(value))))


async def post_and_rate(store, tunes: list[dict], taste: str, seed: int) -> dict:
    """Store each tune (dicts with abc, style, bars, seed, model_version and its traits) as requested by
    someone on a server, and rate it by `taste`. Returns counts (tunes, votes, self_votes, with_trait)."""
    trait = TASTES[taste]
    rng = random.Random(seed)
    counts = {"tunes": 0, "votes": 0, "self_votes": 0, "with_trait": 0}
    for i, tune in enumerate(tunes):
        server = SERVERS[i % len(SERVERS)]
        requester = person(server, rng.randrange(PEOPLE))
        tune_id = await store.add_tune(
            request={"style": tune["style"], "length": tune["bars"], "seed": tune["seed"]},
            text=tune["abc"],
            text_format="abc",
            facts=TuneFacts(style=tune["style"], model="abc", model_version=tune["model_version"], seed=tune["seed"]),
            user_id=requester,
            guild_id=server,
            channel_id=server * 10,
        )
        has = bool(tune["traits"].get(trait)) if trait else rng.random() < RANDOM_LIKED
        others = [person(server, k) for k in range(PEOPLE) if person(server, k) != requester]
        for voter in rng.sample(others, VOTES):
            await store.rate(tune_id, voter, stars(has, rng))
        counts["votes"] += VOTES
        if rng.random() < SELF_VOTE_SHARE:
            await store.rate(tune_id, requester, 5)
            counts["self_votes"] += 1
        counts["tunes"] += 1
        counts["with_trait"] += has
    return counts
