"""End-to-end through the fake Discord: the real discord.py client, the real job queue and worker
processes, a real SQLite file."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import re
from pathlib import Path

import mido
import music21
import pytest
import pytest_asyncio
from PIL import Image
from pydub import AudioSegment

from bot.artifacts import TuneFacts
from bot.config import Settings
from bot.engine.local import JobQueue
from bot.store import GuildSettings, Store
from tests.fake_discord import FakeDiscord, answered, attachment, buttons, field, posted, running_bot

pytestmark = pytest.mark.asyncio(loop_scope="module")

PROGRESS_EVERY = 0.2  # seconds between progress edits (2 s in production; shorter keeps tests quick)
SETTINGS = dict(workers=2, job_timeout=120.0, per_user_running=1, per_user_queued=2, queue_cap=20, shutdown_grace=2.0)


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def store(tmp_path_factory):
    """One database and one job queue (two real worker processes) for the whole module: workers load the
    model and the soundfont once."""
    s = await Store.open(tmp_path_factory.mktemp("db") / "t.sqlite3")
    yield s
    await s.close()


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def queue(store, tmp_path_factory):
    q = JobQueue(Settings(data_dir=tmp_path_factory.mktemp("data"), **SETTINGS))
    await q.start()
    yield q
    await q.close(0)


@contextlib.asynccontextmanager
async def running(fake: FakeDiscord, tmp_path, store: Store, queue: JobQueue, **changes):
    settings = Settings(data_dir=tmp_path, discord_token=fake.token, **{**SETTINGS, **changes})
    async with running_bot(fake, settings, store, queue) as bot:
        bot.progress_every = PROGRESS_EVERY
        yield bot


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def fake_server():
    """One fake Discord for the module: like the real one, it remembers the commands synced by the first
    test's bot (the store remembers that they were synced, so later bots do not sync again)."""
    async with FakeDiscord() as server:
        with server.patched():
            yield server


@pytest_asyncio.fixture(loop_scope="module")
async def fake(fake_server):
    fake_server.attachment_size_limit = 10 * 1024 * 1024
    fake_server.edit_interval = PROGRESS_EVERY * 0.95  # the bot must keep its pace (asyncio may wake ~1 ms early)
    fake_server.violations.clear()
    yield fake_server


KEY_WORDS = r"[A-G][#b]? (major|minor|dorian|mixolydian)"


async def test_compose_jig_posts_files_that_decode(fake, tmp_path, store, queue):
    async with running(fake, tmp_path, store, queue):
        before = len(fake.visible())
        rec = await fake.slash("compose", style="jig", length=16, form="AA", seed=1)
        await fake.wait_for(lambda: posted(fake, rec), 120, "the tune")
    assert rec.callback["type"] == 5 and not rec.ephemeral and rec.ack_latency < 3.0  # deferred in time
    post = posted(fake, rec)
    # One message per tune: the deferred response became the post (issue 14), MP3 first, the sheet its picture.
    assert len(fake.visible()) == before + 1 and not rec.followups
    assert [a["filename"].rsplit(".", 1)[1] for a in post["attachments"]] == ["mp3", "abc", "mid", "png"]
    png_name = post["attachments"][3]["filename"]
    assert post["embeds"][0]["image"]["url"] == f"attachment://{png_name}" and post["content"] == ""
    assert field(post, "Meter") == "6/8" and field(post, "Bars") == "16" and field(post, "Style") == "jig"
    assert re.fullmatch(KEY_WORDS, field(post, "Key")) and field(post, "Model") is None  # words, not "Bbmix"
    assert field(post, "Score") == "no votes yet" and "(seed" not in post["embeds"][0]["title"]
    assert "seed 1" in post["embeds"][0]["footer"]["text"]
    tempo = int(field(post, "Tempo").split()[0])

    abc = attachment(fake, post, "abc").decode()
    score = music21.converter.parse(abc, format="abc")
    part = score.parts[0] if score.parts else score
    lengths = [m.duration.quarterLength for m in part.getElementsByClass("Measure") if m.duration.quarterLength > 0]
    assert [ts.ratioString for ts in score.recurse().getElementsByClass("TimeSignature")][:1] == ["6/8"]
    # length counts bars as played: 16 bars of 6/8 = AA, one 8-bar part written once between repeat
    # signs = 24 quarter notes written. A part may start with a pickup that its last bar completes.
    pickup = lengths[0] if lengths[0] < 3.0 else 0.0
    assert 24.0 <= sum(lengths) <= 24.0 + pickup, (abc, lengths)

    midi = mido.MidiFile(file=io.BytesIO(attachment(fake, post, "mid")))
    once = 16 * 2 * 60 / tempo  # 16 bars of two dotted-quarter beats
    assert 0.9 * once <= midi.length <= 1.2 * once  # 16 bars as played, repeats expanded

    mp3 = AudioSegment.from_file(io.BytesIO(attachment(fake, post, "mp3")), format="mp3")
    assert (
        mp3.duration_seconds == pytest.approx(midi.length, abs=2.0) and mp3.dBFS > -40
    )  # as long as the MIDI, not silent

    png = Image.open(io.BytesIO(attachment(fake, post, "png")))
    assert png.format == "PNG" and png.width > 200 and png.height > 100
    ids = [c["custom_id"] for row in post["components"] for c in row["components"]]
    assert len(ids) == 8 and all(len(i) <= 100 for i in ids)
    assert not fake.violations


async def test_tune_reposts_a_stored_tune_and_fits_the_upload_limit(fake, tmp_path, store, queue):
    abc = (Path(__file__).parent.parent / "bot" / "examples" / "anvil_reel.abc").read_text()
    tune_id = await store.add_tune(
        request={"style": "reel", "length": 16},
        text=abc,
        text_format="abc",
        facts=TuneFacts(style="reel", model="abc", model_version="example", seed=7),
        guild_id=fake.guild_id,
    )
    async with running(fake, tmp_path, store, queue):
        rec = await fake.slash("tune", id=tune_id)
        await fake.wait_for(lambda: answered(fake, rec), 120, "the re-post")
        full_mp3 = attachment(fake, posted(fake, rec), "mp3")
        fake.attachment_size_limit = int(len(full_mp3) * 0.7)  # a server with a smaller upload limit
        rec2 = await fake.slash("tune", id=tune_id)
        await fake.wait_for(lambda: answered(fake, rec2), 120, "the re-post")
        fake.attachment_size_limit = 20_000  # too small for any audio at all
        rec3 = await fake.slash("tune", id=tune_id)
        await fake.wait_for(lambda: answered(fake, rec3), 120, "the re-post")
    first, second, third = posted(fake, rec), posted(fake, rec2), posted(fake, rec3)
    assert field(first, "Tune id") == f"`{tune_id}`" and "Anvil" in first["embeds"][0]["title"]
    assert await store.count_tunes() >= 1 and (await store.get_tune(tune_id)).message_id == int(first["id"])
    smaller = attachment(fake, second, "mp3")
    assert len(smaller) <= fake.attachment_size_limit or len(smaller) < len(full_mp3) * 0.7
    assert "kbps" in second["embeds"][0]["description"]
    long = AudioSegment.from_file(io.BytesIO(full_mp3), format="mp3").duration_seconds
    assert AudioSegment.from_file(io.BytesIO(smaller), format="mp3").duration_seconds == pytest.approx(long, abs=0.5)
    names = [a["filename"] for a in third["attachments"]]
    assert not any(n.endswith(".mp3") for n in names) and any(n.endswith(".abc") for n in names)
    assert "left out" in third["embeds"][0]["description"]
    assert not fake.violations


def new_posts(fake: FakeDiscord, before: set) -> list[dict]:
    """Channel messages (sent with the bot token) that were not there before."""
    return [m for m in fake.channel_posts() if int(m["id"]) not in before]


async def compose_one(fake, user=None, **options):
    rec = await fake.slash("compose", user=user, **options)
    await fake.wait_for(lambda: answered(fake, rec), 60, "the tune")
    assert posted(fake, rec), rec.texts()
    return rec


async def test_star_clicks_store_and_update_votes(fake, tmp_path, store, queue):
    async with running(fake, tmp_path, store, queue) as bot:
        rec = await compose_one(fake, style="reel", length=8)
        post = posted(fake, rec)
        tune_id = buttons(post)["4"].split(":")[2]
        alice, bob = fake.user(1), fake.user(2)
        click = await fake.click(post, buttons(post)["4"], alice)
        await fake.wait_for(lambda: click.callback, 10, "the rating reply")
        assert click.ephemeral and "4/5" in click.texts()[0]
        assert await bot.store.user_rating(tune_id, alice.id) == 4
        click = await fake.click(post, buttons(post)["2"], alice)  # changes her vote
        await fake.wait_for(lambda: click.callback, 10, "the rating reply")
        assert await bot.store.user_rating(tune_id, alice.id) == 2
        click = await fake.click(post, buttons(post)["5"], bob)
        await fake.wait_for(lambda: click.callback, 10, "the rating reply")
        summary = await bot.store.rating_summary(tune_id)
        assert summary.count == 2 and summary.stars[2] == 1 and summary.stars[5] == 1
        rate = await fake.slash("rate", user=bob, tune=tune_id, stars=3)
        await fake.wait_for(lambda: rate.callback, 10, "/rate reply")
        assert await bot.store.user_rating(tune_id, bob.id) == 3
        rate = await fake.slash("rate", user=bob, tune="nosuchtune", stars=3)
        await fake.wait_for(lambda: rate.callback, 10, "/rate reply")
        assert rate.ephemeral and "no tune" in rate.texts()[0]
        # The score is public: the post's embed shows everyone's votes (issue 14; they were private before).
        await fake.wait_for(
            lambda: field(fake.messages[int(post["id"])], "Score") == "2.5 from 2 votes", 10, "the score on the post"
        )


async def test_click_on_an_old_message_works_after_a_restart(fake, tmp_path, store, queue):
    async with running(fake, tmp_path, store, queue):
        syncs = len(fake.sync_calls)
        rec = await compose_one(fake, style="jig", length=8)
    post = posted(fake, rec)
    tune_id = buttons(post)["5"].split(":")[2]
    async with running(fake, tmp_path, store, queue) as bot:  # a new client, as after a restart
        assert len(fake.sync_calls) == syncs  # same commands as before: no new sync
        click = await fake.click(post, buttons(post)["5"], fake.user(3))
        await fake.wait_for(lambda: click.callback, 10, "the rating reply")
        assert await bot.store.user_rating(tune_id, fake.user(3).id) == 5
        var = await fake.click(post, buttons(post)["Variation"], fake.user(3))
        await fake.wait_for(lambda: answered(fake, var), 60, "the variation")
        assert posted(fake, var) and f"`{tune_id}`" in " ".join(var.texts())
        child = buttons(posted(fake, var))["5"].split(":")[2]
        assert (await bot.store.get_tune(child)).parent_id == tune_id


async def test_continue_with_malformed_abc_is_refused_and_the_bot_keeps_working(fake, tmp_path, store, queue):
    async with running(fake, tmp_path, store, queue):
        bad = await fake.slash("continue", abc="X:1\nT:No key line\nM:6/8\n|:DFA dfa:|")
        await fake.wait_for(lambda: bad.callback, 10, "the error")
        assert bad.ephemeral and "K:" in bad.texts()[0]
        upload = fake.upload("tune.mid", b"MThd\x00\x00")
        bad = await fake.slash("continue", file=upload)
        await fake.wait_for(lambda: bad.callback, 10, "the error")
        assert bad.ephemeral and "not an .abc file" in bad.texts()[0]
        bad = await fake.slash("continue", abc="X:1\nM:6/8\nL:1/8\nK:D\n|:DFA ^^^=g,,,, dfa|")  # the worker finds it
        await fake.wait_for(lambda: bad.followups, 60, "the error")
        assert bad.followups[0]["flags"] & 64 and "accidental" in bad.followups[0]["content"]
        assert "line 5" in bad.followups[0]["content"]
        await fake.wait_for(lambda: bad.deleted_original, 10, "the thinking message to go")
        rec = await compose_one(fake, style="jig", length=8)
        assert posted(fake, rec)


async def test_continue_an_attached_abc_file(fake, tmp_path, store, queue):
    abc = (Path(__file__).parent.parent / "bot" / "examples" / "smiths_jig.abc").read_bytes()  # 16 bars
    async with running(fake, tmp_path, store, queue):
        rec = await fake.slash("continue", file=fake.upload("smiths_jig.abc", abc), length=24)
        await fake.wait_for(lambda: answered(fake, rec), 60, "the continuation")
        first = posted(fake, rec)
        assert first, rec.texts()
        more = await fake.click(first, buttons(first)["Continue"], fake.owner)
        await fake.wait_for(lambda: answered(fake, more), 60, "the second continuation")
    text = attachment(fake, first, "abc").decode()
    assert "DFA AFA|dfe dBA" in text and "fed ecA|d3 d3:|" in text  # the given tune is kept, and more follows
    assert field(first, "Style") == "jig" and field(first, "Bars") == "24"
    second = posted(fake, more)
    assert second and field(second, "Bars") == "40", more.texts()
    first_body = text.strip().removesuffix("|]")  # the continuation goes on where the first one ended
    assert first_body in attachment(fake, second, "abc").decode()
    # Its title says what it is; the parent's seed is not in it (the seed is in the footer, once).
    assert second["embeds"][0]["title"].endswith(", continued (2)") and "(seed" not in second["embeds"][0]["title"]


async def test_delete_is_refused_for_others_and_allowed_for_the_requester(fake, tmp_path, store, queue):
    async with running(fake, tmp_path, store, queue):
        owner = fake.user(5)
        rec = await compose_one(fake, user=owner, style="polka", length=8)
        post = posted(fake, rec)
        tune_id = buttons(post)["5"].split(":")[2]
        click = await fake.click(post, buttons(post)["Delete"], fake.user(6))
        await fake.wait_for(lambda: click.callback, 10, "the refusal")
        assert click.ephemeral and "Only the person" in click.texts()[0]
        assert not fake.messages[int(post["id"])].get("deleted")
        click = await fake.click(post, buttons(post)["Delete"], owner)
        await fake.wait_for(lambda: click.followups, 10, "the answer")
        again = await fake.slash("tune", user=owner, id=tune_id)
        rate = await fake.slash("rate", user=fake.user(6), tune=tune_id, stars=5)
        await fake.wait_for(lambda: again.callback and rate.callback, 10, "the refusals")
    # Delete means delete (issue 14): the post is gone before the answer says so; the tune cannot come back.
    gone = fake.messages[int(post["id"])]
    assert gone.get("deleted") and gone["_deleted_at"] < click.followups[0]["_at"]
    assert "Deleted tune" in click.followups[0]["content"]
    assert again.ephemeral and "no tune" in again.texts()[0] and rate.ephemeral and "no tune" in rate.texts()[0]
    assert (await store.get_tune(tune_id)).deleted


async def test_twenty_requests_from_ten_users_are_all_answered(fake, tmp_path, store):
    limits = dict(SETTINGS, workers=1, per_user_running=1, per_user_queued=0, queue_cap=4)
    busy_queue = JobQueue(Settings(data_dir=tmp_path, **limits))
    await busy_queue.start()
    try:
        async with running(fake, tmp_path, store, busy_queue, **limits):
            users = [fake.user(10 + i) for i in range(10)]
            records = await asyncio.gather(
                *(fake.slash("compose", user=users[i % 10], style="jig", length=8) for i in range(20))
            )
            await fake.wait_for(lambda: all(answered(fake, r) for r in records), 120, "every answer")
    finally:
        await busy_queue.close(0)
    assert all(r.ack_latency is not None and r.ack_latency < 3.0 for r in records)
    done = [r for r in records if posted(fake, r)]
    refused = [r for r in records if r.ephemeral]
    assert len(done) + len(refused) == 20 and done and refused
    assert all(any(w in r.texts()[0] for w in ("limit", "busy")) for r in refused), [r.texts() for r in refused]
    assert not fake.violations


async def test_result_goes_to_the_channel_when_the_token_has_expired(fake, tmp_path, store, queue):
    async with running(fake, tmp_path, store, queue) as bot:
        bot.token_life = 0.0
        before = set(fake.messages)
        rec = await fake.slash("compose", style="jig", length=8)
        await fake.wait_for(
            lambda: new_posts(fake, before) and rec.original_id and fake.messages[rec.original_id].get("deleted"),
            60,
            "a channel post",
        )
    post = new_posts(fake, before)[0]
    assert f"<@{fake.owner.id}>" in post["content"] and len(post["attachments"]) == 4
    assert not rec.followups and not fake.violations
    assert [m["id"] for m in fake.visible() if int(m["id"]) not in before] == [post["id"]]  # still one message


async def test_bad_options_get_a_friendly_ephemeral_error(fake, tmp_path, store, queue):
    async with running(fake, tmp_path, store, queue):
        rec = await fake.slash("compose", style="jig", key="H#")
        await fake.wait_for(lambda: rec.callback, 10, "the error")
        assert rec.ephemeral and "H#" in rec.texts()[0]
        auto = await fake.autocomplete("compose", "key", key="E")
        await fake.wait_for(lambda: auto.callback, 10, "autocomplete choices")
        choices = [c["value"] for c in auto.callback["data"]["choices"]]
        assert choices and all(c.startswith("E") for c in choices) and len(choices) <= 25


async def test_admin_settings_need_manage_server_and_are_stored(fake, tmp_path, store, queue):
    async with running(fake, tmp_path, store, queue) as bot:
        rec = await fake.slash("admin settings", user=fake.user(7), per_user_limit=3)
        await fake.wait_for(lambda: rec.callback, 10, "the refusal")
        assert rec.ephemeral and "Manage Server" in rec.texts()[0]
        rec = await fake.slash(
            "admin settings",
            user=fake.owner,
            per_user_limit=1,
            default_instrument="harp",
            default_style="reel",
            default_length=8,
            default_tempo=100,
        )
        await fake.wait_for(lambda: rec.callback, 10, "the settings")
        assert "each style's own" not in rec.texts()[0] and "`" not in rec.texts()[0]
        gs = await bot.store.guild_settings(fake.guild_id)
        assert (gs.per_user_limit, gs.default_instrument, gs.default_style, gs.default_length, gs.default_tempo) == (
            1,
            "harp",
            "reel",
            8,
            100,
        )
        first = await fake.slash("compose", user=fake.user(9))  # no options: this server's defaults
        second = await fake.slash("compose", user=fake.user(9), style="jig", length=8)  # over this server's limit
        await fake.wait_for(lambda: answered(fake, first) and answered(fake, second), 60, "both answers")
        post = posted(fake, first)
        assert (field(post, "Instrument"), field(post, "Style"), field(post, "Tempo")) == ("harp", "reel", "100 bpm")
        assert second.ephemeral and "limit is 1" in second.texts()[0]
        rec = await fake.slash("admin settings", user=fake.owner, allow_channel=fake.other_channel_id)
        await fake.wait_for(lambda: rec.callback, 10, "the settings")
        assert f"<#{fake.other_channel_id}>" in rec.texts()[0]
        rec = await fake.slash("compose", style="jig", length=8)  # in a channel that is not allowed
        await fake.wait_for(lambda: rec.callback, 10, "the refusal")
        assert rec.ephemeral and "only in" in rec.texts()[0]
        rec = await fake.slash("admin settings", user=fake.owner, reset=True)
        await fake.wait_for(lambda: rec.callback, 10, "the reset")
        assert await bot.store.guild_settings(fake.guild_id) == GuildSettings(fake.guild_id)


async def test_text_form_composes_when_message_commands_are_enabled(fake, tmp_path, store, queue):
    async with running(fake, tmp_path, store, queue, message_commands=True) as bot:
        assert bot.intents.message_content
        before = set(fake.messages)
        await fake.say("!compose style:jig length:8", fake.user(8))
        await fake.wait_for(lambda: any(m["attachments"] for m in new_posts(fake, before)), 60, "the posted tune")
        assert len(new_posts(fake, before)) == 1  # the status reply became the tune: one message
        await fake.say(f"<@{fake.bot_user.id}> compose style:jig length:999", fake.user(8))  # the @mention form
        await fake.wait_for(
            lambda: any("length" in m["content"] for m in new_posts(fake, before)), 10, "the error reply"
        )
    post = next(m for m in new_posts(fake, before) if m["attachments"])
    assert len(post["attachments"]) == 4 and post["components"] and post["embeds"][0]["image"]


async def test_help_and_stats_answer_ephemerally(fake, tmp_path, store, queue):
    async with running(fake, tmp_path, store, queue):
        before = await store.count_tunes()
        await compose_one(fake, style="jig", length=8)
        help_ = await fake.slash("help")
        stats = await fake.slash("stats")
        await fake.wait_for(lambda: help_.callback and stats.callback, 10, "the answers")
    assert help_.ephemeral and any("/compose" in t for t in help_.texts())
    text = " ".join(help_.texts())
    assert all(
        w in text for w in ("/stats", "/admin", "/mine", "Limits", "24, 28, 32, 40, 48, 64, 80, 96 bars", "Cancel")
    )  # issue 14
    assert stats.ephemeral and f"Tunes composed: {before + 1}" in stats.texts()


async def test_top_and_admin_export_show_this_servers_ratings(fake, tmp_path, store, queue):
    async with running(fake, tmp_path, store, queue):
        rec = await compose_one(fake, style="waltz", length=8)
        post = posted(fake, rec)
        tune_id = buttons(post)["5"].split(":")[2]
        click = await fake.click(post, buttons(post)["5"], fake.user(40))
        await fake.wait_for(lambda: click.callback, 10, "the rating reply")
        top = await fake.slash("top", style="waltz", period="day")
        refused = await fake.slash("admin export", user=fake.user(41))
        export = await fake.slash("admin export", user=fake.owner)
        await fake.wait_for(lambda: top.callback and refused.callback and export.followups, 20, "the answers")
    # Titles, scores and a jump link to the post (issue 14: bare ids before).
    link = f"https://discord.com/channels/{fake.guild_id}/{fake.channel_id}/{post['id']}"
    line = next(t for t in top.texts()[1].splitlines() if f"`{tune_id}`" in t)
    assert f"[{post['embeds'][0]['title']}]({link})" in line and "5.0 from 1 vote" in line
    assert refused.ephemeral and "Manage Server" in refused.texts()[0]
    assert export.ephemeral and export.followups[0]["flags"] & 64
    lines = attachment(fake, export.followups[0], "jsonl").decode().splitlines()
    records = [json.loads(line) for line in lines]
    assert tune_id in [r["id"] for r in records] and all("user_ratings" not in r for r in records)


async def test_a_forged_default_instrument_is_refused_and_a_bad_stored_one_ignored(fake, tmp_path, store, queue):
    """Discord offers a list of instruments, but a forged interaction can send any text; and a bad value
    stored by an older version must not break every /compose on the server."""
    await store.db.execute(
        "INSERT INTO guild_settings (guild_id, allowed_channels, per_user_limit, default_instrument,"
        " updated_at) VALUES (?, '[]', NULL, 'kazoo', 0) ON CONFLICT (guild_id) DO UPDATE SET"
        " default_instrument = 'kazoo'",
        (fake.guild_id,),
    )
    async with running(fake, tmp_path, store, queue) as bot:
        rec = await compose_one(fake, fake.user(50), style="jig", length=8)
        assert field(posted(fake, rec), "Instrument") == "fiddle"  # the style's own, not an error
        forged = await fake.slash("admin settings", user=fake.owner, default_instrument="kazoo")
        await fake.wait_for(lambda: forged.callback, 10, "the refusal")
        assert forged.ephemeral and "Instrument 'kazoo' is not known; try fiddle" in forged.texts()[0]
        assert (await bot.store.guild_settings(fake.guild_id)).default_instrument is None
        rec = await fake.slash("admin settings", user=fake.owner, reset=True)
        await fake.wait_for(lambda: rec.callback, 10, "the reset")
    assert await store.guild_settings(fake.guild_id) == GuildSettings(fake.guild_id)


async def test_compose_with_a_form_says_what_was_composed(fake, tmp_path, store, queue):
    async with running(fake, tmp_path, store, queue):
        rec = await compose_one(fake, fake.user(61), style="reel", length=24, form="AB", seed=4)
    post = posted(fake, rec)
    form = field(post, "Form")  # "AB, 8-bar parts" or "AB, parts of 8 and 12 bars"
    assert re.fullmatch(r"AB, (\d+-bar parts|parts of \d+ and \d+ bars)", form), form
    sizes = [int(n) for n in re.findall(r"\d+", form)]
    bars = int(field(post, "Bars"))
    assert bars == (2 * sizes[0] if len(sizes) == 1 else sum(sizes))  # two parts, each played once
    if bars != 24:  # no training reel is AB of 24 bars: the post says what was composed instead
        assert "24" in post["embeds"][0]["description"]
