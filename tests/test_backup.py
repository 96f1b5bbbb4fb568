"""`tunesmith backup` while another process keeps writing ratings: the copy is consistent and
holds every rating whose write had returned before the backup began."""

import os
import sqlite3
import subprocess
import sys
import textwrap

WRITER = textwrap.dedent("""
    import asyncio, sys
    from bot.artifacts import TuneFacts
    from bot.store import Store

    async def main(path):
        store = await Store.open(path)
        tune = await store.add_tune(request={"style": "jig"}, text="X:1", text_format="abc", facts=TuneFacts(style="jig"))
        print("tune", tune, flush=True)
        user = 0
        while True:  # until killed
            user += 1
            await store.rate(tune, user, 1 + user % 5)
            print("rated", user, flush=True)

    asyncio.run(main(sys.argv[1]))
""")


def test_backup_during_writes_keeps_every_committed_rating(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    db = data / "tunesmith.sqlite3"
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(db)], stdout=subprocess.PIPE, text=True)
    try:
        tune_id = writer.stdout.readline().split()[1]
        acknowledged = []
        while len(acknowledged) < 200:
            acknowledged.append(int(writer.stdout.readline().split()[1]))
        out = tmp_path / "backup.sqlite3"
        proc = subprocess.run(
            [sys.executable, "-m", "bot.cli", "backup", "--out", str(out)],
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, "TUNESMITH_DATA_DIR": str(data)},
        )
        assert proc.returncode == 0, proc.stderr
        more = int(writer.stdout.readline().split()[1])  # the writer was still going
        assert more > acknowledged[-1]
    finally:
        writer.kill()
        writer.wait(timeout=30)

    copy = sqlite3.connect(out)
    assert copy.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    users = {u for (u,) in copy.execute("SELECT user_id FROM ratings WHERE tune_id = ?", (tune_id,))}
    assert set(acknowledged) <= users
    stars = dict(copy.execute("SELECT user_id, stars FROM ratings"))
    assert all(stars[u] == 1 + u % 5 for u in acknowledged)
