"""Which of a tune's files fit Discord's upload limit: an MP3 that is too big is re-encoded at a lower
bitrate (ffmpeg in a subprocess, so the event loop does no CPU work); anything still too big is left
out with a note that says so."""
from __future__ import annotations

import asyncio
import logging

log = logging.getLogger("tunesmith.discord")

MAX_ATTACHMENTS = 10  # Discord's limit per message


async def reencode_mp3(data: bytes, kbps: int, timeout: float = 60.0) -> bytes:
    """The same MP3 at a lower bitrate (ffmpeg in a subprocess: no CPU work on the event loop)."""
    proc = await asyncio.create_subprocess_exec(
        "ffmpeg", "-hide_banner", "-loglevel", "error", "-f", "mp3", "-i", "pipe:0", "-b:a", f"{kbps}k", "-f", "mp3",
        "pipe:1", stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        out, err = await asyncio.wait_for(proc.communicate(data), timeout)
    except asyncio.TimeoutError:
        proc.kill()
        await proc.wait()
        raise RuntimeError("ffmpeg took too long re-encoding the MP3") from None
    if proc.returncode != 0 or not out:
        raise RuntimeError(f"ffmpeg could not re-encode the MP3: {err.decode(errors='replace')[:200]}")
    return out


def human_size(n: int) -> str:
    return f"{n / 1024 / 1024:.1f} MiB" if n >= 1024 * 1024 else f"{n / 1024:.0f} KiB"


async def fit_files(art, stem: str, limit: int) -> tuple[list[tuple[str, bytes]], list[str]]:
    """The artifacts' files renamed `tunesmith-<id>.<ext>`, each within the upload limit: an MP3 that is
    too big is re-encoded at a lower bitrate, anything still too big is left out with a note."""
    files, notes = [], []
    for name, data in art.files.items():
        ext = name.rsplit(".", 1)[-1]
        if ext == "mp3" and len(data) > limit:
            seconds = float(art.meta.get("duration_s") or 0) or len(data) * 8 / 128_000
            kbps = next((k for k in (96, 64, 48, 32) if k * 1000 / 8 * seconds * 1.05 <= limit), None)
            if kbps is not None:
                try:
                    smaller = await reencode_mp3(data, kbps)
                    if len(smaller) <= limit:
                        data = smaller
                        notes.append(f"The audio is at {kbps} kbps to fit this server's upload limit.")
                except RuntimeError as exc:
                    log.warning("%s", exc)
        if len(data) > limit:
            notes.append(f"The .{ext} file ({human_size(len(data))}) is over this server's upload limit "
                         f"({human_size(limit)}) and was left out.")
            continue
        files.append((f"tunesmith-{stem}.{ext}", data))
    return files[:MAX_ATTACHMENTS], notes
