"""Issue 22 through the fake Discord: scores that show without reading the post back, public figures without
self-votes, only lengths the composer honours, re-posts with their score, continuations and chorales with one
title of their own, /stats with one mean, key suggestions, ABC pasted on one line, and messages that start
alike. The real discord.py client, one real worker process, a real SQLite file. (The restart after `kill -9`
is tests/test_discord_restart.py.)"""

from __future__ import annotations

import logging
import re

import numpy as np
import pytest

from bot.artifacts import TuneFacts
from bot.requests import honoured_lengths, length_choices
from bot.styles import STYLES
from model.abc.form import make_plan
from tests import post_env
from tests.fake_discord import answered, attachment, buttons, field, posted

pytestmark = pytest.mark.asyncio(loop_scope="module")
# the shared module-scoped fixtures (tests/post_env.py) and helpers
store, queue, fake = post_env.store, post_env.queue, post_env.fake
compose = post_env.compose


def running(fake, tmp_path, store, queue):
    """A bot that also reads `!compose` chat messages."""
    return post_env.running(fake, tmp_path, store, queue, message_commands=True)


async def click(fake, post, label, user):
    rec = await fake.click(post, buttons(post)[label], user)
    await fake.wait_for(lambda: rec.callback or rec.followups, 10, f"the answer to {label}")
    return rec


def tune_of(post: dict) -> str:
    return buttons(post)["5"].split(":")[2]


def score(fake, post) -> str | None:
    return field(fake.messages[int(post["id"])], "Score")


def reads_of(fake, post) -> list:
    return [r for r in fake.requests if r[0] == "GET" and r[1].endswith(f"/messages/{post['id']}")]


# ---- 1: the score is edited by the stored ids, never read back ------------------------------------------------
async def test_the_score_shows_without_read_message_history_and_a_failed_edit_is_logged_once(
    fake, tmp_path, store, queue, caplog
):
    fake.forbid_history = True
    try:
        async with running(fake, tmp_path, store, queue):
            post = await compose(fake, fake.user(1), style="jig", length=16)
            await click(fake, post, "4", fake.user(2))
            await fake.wait_for(lambda: score(fake, post) == "4.0 from 1 vote", 10, "the score without a read")
            assert not reads_of(fake, post)
            edited = fake.messages[int(post["id"])]
            assert edited["embeds"][0]["image"]["url"].startswith("attachment://") and edited["attachments"]
            assert buttons(edited) == buttons(post)

            fake.refuse_edits.add(int(post["id"]))  # now the edit itself fails (twice)
            caplog.set_level(logging.WARNING, logger="tunesmith.discord")
            await click(fake, post, "2", fake.user(3))
            await fake.wait_for(lambda: fake.refused.get(int(post["id"])) == 1, 10, "a refused edit")
            await click(fake, post, "5", fake.user(4))
            await fake.wait_for(lambda: fake.refused.get(int(post["id"])) == 2, 10, "a second refused edit")
    finally:
        fake.forbid_history = False
    logged = [
        r for r in caplog.records if "could not show the score" in r.getMessage() and post["id"] in r.getMessage()
    ]
    assert len(logged) == 1 and "403" in logged[0].getMessage()  # once, with the reason
    assert not reads_of(fake, post)


# ---- 2 and 5: self-votes count in no public figure; a re-post shows the stored score -------------------------
async def test_self_votes_count_nowhere_public_and_a_repost_shows_the_score(fake, tmp_path, store, queue):
    author, rival, voter = fake.user(10), fake.user(11), fake.user(12)
    async with running(fake, tmp_path, store, queue):
        mine = await compose(fake, author, style="hornpipe", length=16)
        theirs = await compose(fake, rival, style="hornpipe", length=16)
        own = await click(fake, mine, "5", author)  # a self-vote
        await click(fake, mine, "2", voter)
        await click(fake, theirs, "3", voter)
        await fake.wait_for(lambda: score(fake, mine) == "2.0 from 1 vote", 10, "the score of others' votes")
        await fake.wait_for(lambda: score(fake, theirs) == "3.0 from 1 vote", 10, "the other score")
        top = await fake.slash("top", user=voter, style="hornpipe")
        listed = await fake.slash("mine", user=author)
        auto = await fake.autocomplete("rate", "tune", user=voter, tune=tune_of(mine))
        again = await fake.slash("tune", user=voter, id=tune_of(mine))
        await fake.wait_for(lambda: answered(fake, again) and top.callback and listed.callback and auto.callback, 120)
        repost = posted(fake, again)
    assert "your own tune" in own.texts()[0] and "only other members' votes" in own.texts()[0]
    lines = top.texts()[1].splitlines()
    assert tune_of(theirs) in lines[0] and "3.0 from 1 vote" in lines[0]  # the self-voted 5 does not rank first
    assert tune_of(mine) in lines[1] and "2.0 from 1 vote" in lines[1]
    assert "2.0 from 1 vote" in next(line for line in listed.texts()[1].splitlines() if tune_of(mine) in line)
    assert any("2.0 from 1 vote" in c["name"] for c in auto.callback["data"]["choices"] if c["value"] == tune_of(mine))
    assert field(repost, "Score") == "2.0 from 1 vote"  # at once, not "no votes yet" until the next vote


# ---- 3: only lengths the composer honours, the same rule in Discord and chat ----------------------------------
async def test_only_honoured_lengths_are_offered_and_a_moved_length_is_told(fake, tmp_path, store, queue):
    def told(words: str) -> list[dict]:
        return [m for m in fake.visible() if m["attachments"] and words in str(m["embeds"])]

    async with running(fake, tmp_path, store, queue):
        cmd = {o["name"]: o for o in fake.find_command("compose")["options"]}
        offered = [c["value"] for c in cmd["length"]["choices"]]
        waltz = await compose(fake, fake.user(20), style="waltz", length=8)
        moved = await compose(fake, fake.user(21), style="waltz", length=12)  # "12 bars: jig, reel, chorale only"
        said = await fake.say("!compose reel 28", user=fake.user(22))
        chat = await fake.wait_for(lambda: next(iter(told("instead of 28")), None), 120, "the chat tune")
    assert said and offered == [n for n, _ in length_choices()] and len(offered) <= 25
    assert "max_value" not in cmd["length"]  # no free range any more
    for style in STYLES.values():  # every offered length that names no styles is exact for every style
        for n, label in length_choices():
            if style.model == "abc" and (label == f"{n} bars" or style.name in label):
                assert make_plan(style.rhythm, None, n, np.random.default_rng(1)).played == n, (style.name, n)
    assert field(waltz, "Bars") == "8" and "instead" not in (waltz["embeds"][0].get("description") or "")
    assert field(moved, "Bars") == "16" and "so this one has 16 bars instead of 12" in moved["embeds"][0]["description"]
    assert field(chat, "Bars") == "32"  # the chat form: the same rule, the same message
    assert max(honoured_lengths("reel")) == 96 and 128 not in honoured_lengths("jig")


# ---- 6 and 7: one title each: continuations, chorales -------------------------------------------------------
async def test_continuations_and_chorales_have_one_title_of_their_own_everywhere(fake, tmp_path, store, queue):
    user = fake.user(30)
    async with running(fake, tmp_path, store, queue):
        parent = await compose(fake, user, style="reel", length=16)
        cont = await click(fake, parent, "Continue", user)
        await fake.wait_for(lambda: answered(fake, cont), 120, "the continuation")
        child = posted(fake, cont)
        again = await click(fake, child, "Continue", user)
        await fake.wait_for(lambda: answered(fake, again), 120, "the continuation's continuation")
        grandchild = posted(fake, again)
        chorale = await compose(fake, user, style="chorale", length=8, seed=1)
        listed = await fake.slash("mine", user=user)
        auto = await fake.autocomplete("tune", "id", user=user, id="")
        await fake.wait_for(lambda: listed.callback and auto.callback, 10, "the lists")
    title = parent["embeds"][0]["title"]
    assert child["embeds"][0]["title"] == f"{title}, continued"
    assert grandchild["embeds"][0]["title"] == f"{title}, continued (2)"
    names = {c["value"]: c["name"] for c in auto.callback["data"]["choices"]}
    for post in (parent, child, grandchild, chorale):
        shown = post["embeds"][0]["title"]
        assert names[tune_of(post)].startswith(f"{shown} \N{MIDDLE DOT}")
        assert any(f"[{shown}]" in line and tune_of(post) in line for line in listed.texts()[1].splitlines())
    sheet_title = re.search(r"<movement-title>([^<]+)<", attachment(fake, chorale, "musicxml").decode())[1]
    assert chorale["embeds"][0]["title"] == sheet_title and "Chorale in" not in sheet_title
    pictures = [a["filename"] for a in chorale["attachments"] if a["filename"].endswith(".png")]
    assert len(pictures) == 1  # 8 bars: one page, not a second page holding a lone bar


# ---- 8: /stats, key suggestions, ABC on one line, messages that start alike -----------------------------------
async def test_stats_keys_one_line_abc_and_message_starts(fake, tmp_path, store, queue):
    member, stranger = fake.user(40), fake.user(41)
    for version, votes in (("ab-test-v2", ((40, 5), (42, 1), (43, 2))), ("ab-test-v3", ((44, 4),))):
        tune = await store.add_tune(
            request={"style": "reel", "length": 32},
            text="X:1\nT:Stat\nK:D\nDEF|",
            text_format="abc",
            facts=TuneFacts(style="reel", model="abc", model_version=version),
            user_id=member.id,
            guild_id=fake.guild_id,
        )
        for user, stars in votes:  # user 40 is the requester: a self-vote on the first
            await store.rate(tune, 700_000_000_000_000_100 + user, stars)
    async with running(fake, tmp_path, store, queue):
        stats = await fake.slash("stats", user=member)
        keys_b = await fake.autocomplete("compose", "key", user=member, key="bbm")
        keys_f = await fake.autocomplete("compose", "key", user=member, key="f#")
        keys_choral = await fake.autocomplete("compose", "key", user=member, style="chorale", key="d")
        one_line = await fake.slash(
            "continue", user=member, abc="X:1 T:Pasted Flat M:6/8 L:1/8 K:D DFA dfa|gfe dcB|AFD DFA|", length=16
        )
        post = await compose(fake, member, style="polka", length=16)
        refusals = [
            await fake.slash("tune", user=member, id="no-such-tune"),
            await fake.slash("continue", user=member),
            await fake.slash("admin export", user=member),
            await fake.click(post, buttons(post)["Delete"], stranger),
            await fake.slash("compose", user=member, key="H"),
        ]
        await fake.wait_for(lambda: answered(fake, one_line), 120, "the one-line continuation")
        await fake.wait_for(
            lambda: stats.callback and all(r.callback or r.followups for r in [*refusals, keys_b, keys_f, keys_choral]),
            10,
            "every answer",
        )
    fields = {f["name"]: f["value"] for f in stats.callback["data"]["embeds"][0]["fields"]}
    mean, votes = float(fields["Mean rating"]), int(fields["Ratings"].split()[0])
    lines = fields[next(k for k in fields if "version" in k)].splitlines()
    versions = [v for v in (re.search(r"(\d+) votes\s+mean ([\d.]+)", line) for line in lines) if v]  # "-": none
    assert len(versions) >= 2 and all(" 0 votes " in line for line in lines if "mean -" in line)
    assert sum(int(v[1]) for v in versions) == votes  # the same votes ...
    assert mean == pytest.approx(sum(int(v[1]) * float(v[2]) for v in versions) / votes, abs=0.01)  # ... one mean
    assert any("ab-test-v2" in line and " 2 votes  mean 1.50" in line for line in lines)

    assert [c["value"] for c in keys_b.callback["data"]["choices"]][:1] == ["Bbm"]
    assert {"F#", "F#m", "F#dor", "F#mix"} <= {c["value"] for c in keys_f.callback["data"]["choices"]}
    choral = keys_choral.callback["data"]["choices"]
    assert {"D", "Dm"} <= {c["value"] for c in choral} and not any("dorian" in c["name"] for c in choral)

    pasted = posted(fake, one_line)
    assert pasted and pasted["embeds"][0]["title"] == "Pasted Flat, continued" and field(pasted, "Meter") == "6/8"

    texts = [r.texts()[0] if r.texts() else "" for r in refusals]
    assert all(r.ephemeral or r.followups for r in refusals)
    assert all(t[:1].isupper() for t in texts), texts
    assert "no tune" in texts[0] and "Give the tune" in texts[1] and "Manage Server" in texts[2]
