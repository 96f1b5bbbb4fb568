"""Issue 14 through the fake Discord: the post people see (public score, warnings), the leaderboard and
lists, re-posts that belong to who asked, the Cancel button, and attachments that fail or lie about
their size. The real discord.py client, one real worker process, a real SQLite file."""

from __future__ import annotations

import asyncio
import itertools

import pytest

from bot.flow import SCORE_EVERY
from tests import post_env
from tests.fake_discord import (
    answered,
    buttons,
    field,
    posted,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")
# the shared module-scoped fixtures (tests/post_env.py) and helpers
store, queue, fake = post_env.store, post_env.queue, post_env.fake
compose, running = post_env.compose, post_env.running


def tune_of(post: dict) -> str:
    return buttons(post)["5"].split(":")[2]


async def test_votes_show_on_the_post_at_discords_pace_and_warnings_too(fake, tmp_path, store, queue):
    async with running(fake, tmp_path, store, queue):
        post = await compose(fake, fake.user(1), style="jig", length=16)
        tune_id = tune_of(post)
        clicks = await asyncio.gather(
            *(fake.click(post, buttons(post)[str(1 + i % 5)], fake.user(10 + i)) for i in range(6))
        )  # a burst of votes
        await fake.wait_for(lambda: all(c.callback for c in clicks), 10, "every private confirmation")
        summary = await store.rating_summary(tune_id)
        shown = f"{summary.mean:.1f} from 6 votes"
        await fake.wait_for(lambda: field(fake.messages[int(post["id"])], "Score") == shown, 10, "the score")
        rate = await fake.slash("rate", user=fake.user(30), tune=tune_id, stars=5)  # the command counts too
        shown = f"{(summary.mean * 6 + 5) / 7:.1f} from 7 votes"
        await fake.wait_for(lambda: field(fake.messages[int(post["id"])], "Score") == shown, 10, "the new score")
    assert all(c.ephemeral and "You rated" in c.texts()[0] for c in clicks) and rate.ephemeral
    edits = fake.messages[int(post["id"])]["_edits"]
    assert len(edits) < 7  # the burst was merged: fewer edits than votes
    assert all(b["at"] - a["at"] >= SCORE_EVERY * 0.95 for a, b in itertools.pairwise(edits))  # at the pace
    assert all(e["embeds"][0]["image"]["url"].startswith("attachment://") for e in edits)  # picture kept
    now = fake.messages[int(post["id"])]
    assert buttons(now) == buttons(post) and now["attachments"] == post["attachments"]  # and the rest
    assert "cut at 10 s" in post["embeds"][0]["description"]  # the renderer's warning reaches the post


async def test_top_mine_and_tune_autocomplete_by_title(fake, tmp_path, store, queue):
    author, other = fake.user(40), fake.user(41)
    async with running(fake, tmp_path, store, queue):
        posts = [await compose(fake, author, style=style, length=8) for style in ("reel", "waltz")]
        vote = await fake.click(posts[1], buttons(posts[1])["4"], other)
        await fake.wait_for(lambda: vote.callback, 10, "the vote")
        mine, none = await fake.slash("mine", user=author), await fake.slash("mine", user=other)
        title = posts[1]["embeds"][0]["title"]
        typed = title.split()[0][:4].lower()
        auto_rate = await fake.autocomplete("rate", "tune", user=other, tune=typed)
        auto_tune = await fake.autocomplete("tune", "id", user=other, id="")
        await fake.wait_for(lambda: all(r.callback for r in (mine, none, auto_rate, auto_tune)), 10, "the answers")
    lines = mine.texts()[1].splitlines()
    assert mine.ephemeral and len(lines) >= 2
    for post, line in zip(reversed(posts), lines):  # newest first, each a link to its post
        link = f"https://discord.com/channels/{fake.guild_id}/{fake.channel_id}/{post['id']}"
        assert f"({link})" in line and f"`{tune_of(post)}`" in line
    assert none.ephemeral and "no tunes" in none.texts()[0]
    rate_choices = auto_rate.callback["data"]["choices"]
    assert rate_choices and all(typed in c["name"].lower() or typed in c["value"].lower() for c in rate_choices)
    assert tune_of(posts[1]) in [c["value"] for c in rate_choices]
    assert any(c["name"].startswith(title) and "4.0 from 1 vote" in c["name"] for c in rate_choices)
    tune_choices = auto_tune.callback["data"]["choices"]
    assert {tune_of(p) for p in posts} <= {c["value"] for c in tune_choices} and len(tune_choices) <= 25


async def test_a_repost_belongs_to_who_asked_for_it(fake, tmp_path, store, queue):
    author, reposter, stranger = fake.user(50), fake.user(51), fake.user(52)
    async with running(fake, tmp_path, store, queue):
        original = await compose(fake, author, style="polka", length=8)
        tune_id = tune_of(original)
        again = await fake.slash("tune", user=reposter, id=tune_id)
        await fake.wait_for(lambda: answered(fake, again), 120, "the re-post")
        repost = posted(fake, again)
        refused = await fake.click(repost, buttons(repost)["Delete"], stranger)
        await fake.wait_for(lambda: refused.callback, 10, "the refusal")
        mine = await fake.click(repost, buttons(repost)["Delete"], reposter)
        await fake.wait_for(lambda: mine.followups, 10, "the re-post removed")
        assert fake.messages[int(repost["id"])].get("deleted") and not fake.messages[int(original["id"])].get("deleted")
        assert not (await store.get_tune(tune_id)).deleted  # their re-post only, not the author's tune
        gone = await fake.click(original, buttons(original)["Delete"], author)
        await fake.wait_for(lambda: gone.followups, 10, "the tune deleted")
    assert refused.ephemeral and "Only the person" in refused.texts()[0]
    assert "re-post" in mine.followups[0]["content"] and "Deleted tune" in gone.followups[0]["content"]
    assert fake.messages[int(original["id"])].get("deleted") and (await store.get_tune(tune_id)).deleted


async def test_cancel_button_stops_a_tune_on_its_way(fake, tmp_path, store, queue):
    requester, stranger = fake.user(60), fake.user(61)
    async with running(fake, tmp_path, store, queue):
        before, tunes = len(fake.visible()), await store.count_tunes()
        rec = await fake.slash("compose", user=requester, style="reel", length=128)
        status = await fake.wait_for(
            lambda: (m := fake.original(rec)) and "Cancel" in buttons(m) and m, 30, "a status with a Cancel button"
        )
        refused = await fake.click(status, buttons(status)["Cancel"], stranger)
        await fake.wait_for(lambda: refused.followups, 10, "the refusal")
        click = await fake.click(status, buttons(status)["Cancel"], requester)
        await fake.wait_for(lambda: click.followups and rec.deleted_original, 30, "the cancel")
    assert "Only the person" in refused.followups[0]["content"]
    assert click.ephemeral and "Cancelled" in click.followups[0]["content"]
    assert len(fake.visible()) == before and await store.count_tunes() == tunes


async def test_attachments_that_fail_or_lie_about_their_size_get_a_clear_answer(fake, tmp_path, store, queue):
    async with running(fake, tmp_path, store, queue):
        broken = await fake.slash("continue", file=fake.upload("tune.abc", b"X:1\nK:D\nDEF|", broken=True))
        huge = b"X:1\nM:6/8\nK:D\n" + b"DFA dfa|" * (50 * 1024 * 1024 // 8)  # 50 MB that claims 300 bytes
        big_id = fake.upload("tune.abc", huge, claimed_size=300)
        big = await fake.slash("continue", file=big_id)
        await fake.wait_for(lambda: broken.callback and big.callback, 30, "both answers")
    assert broken.ephemeral and "could not download" in broken.texts()[0]
    assert big.ephemeral and "over the limit" in big.texts()[0]
    assert fake.served[big_id] < 16 * 1024 * 1024  # stopped early (socket buffers hold a few MB), not 50 MB
