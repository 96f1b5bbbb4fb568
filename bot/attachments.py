"""Files in and out of Discord, free of discord.py.

Out: which of a tune's files fit Discord's upload limit, in posting order: an MP3 that is too big is
re-encoded at a lower bitrate (ffmpeg in a subprocess, so the event loop does no CPU work); anything
still too big is left out with a note that says so.
In: `download(url, limit)` reads a user's attachment, stopping as soon as it is over the limit (the size
Discord claims for it is not trusted).
"""

from __future__ import annotations

import asyncio
import logging

import aiohttp

log = logging.getLogger("tunesmith.discord")

MAX_ATTACHMENTS = 10  # Discord's limit per message
DOWNLOAD_TIMEOUT = 20.0  # seconds for a user's attachment


class DownloadError(ValueError):
    """A user's attachment could not be read, or is too big; the text is safe to show."""


async def download(url: str, limit: int, timeout: float = DOWNLOAD_TIMEOUT) -> bytes:
    """The body at `url`, read in chunks; DownloadError as soon as more than `limit` bytes came (the
    rest is never read), or when the download fails."""
    body = bytearray()
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as session,
            session.get(url) as resp,
        ):
            if resp.status != 200:
                raise DownloadError(
                    f"I could not download the attached file (Discord answered {resp.status}); please attach it again"
                )
            async for chunk in resp.content.iter_chunked(16 * 1024):
                body += chunk
                if len(body) > limit:
                    raise DownloadError(f"the attached file is over the limit of {limit} bytes; attach a shorter tune")
    except (TimeoutError, aiohttp.ClientError) as exc:
        log.warning("attachment download failed: %s: %s", type(exc).__name__, exc)
        raise DownloadError(
            "I could not download the attached file (the connection failed); please try again"
        ) from None
    return bytes(body)


async def reencode_mp3(data: bytes, kbps: int, timeout: float = 60.0) -> bytes:
    """The same MP3 at a lower bitrate (ffmpeg in a subprocess: no CPU work on the event loop)."""
    proc = await asyncio.create_subprocess_exec(
        "ffmpeg",
        "-hide_banner",
        "-loglevel",
        "error",
        "-f",
        "mp3",
        "-i",
        "pipe:0",
        "-b:a",
        f"{kbps}k",
        "-f",
        "mp3",
        "pipe:1",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(data), timeout)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise RuntimeError("ffmpeg took too long re-encoding the MP3") from None
    if proc.returncode != 0 or not out:
        raise RuntimeError(f"ffmpeg could not re-encode the MP3: {err.decode(errors='replace')[:200]}")
    return out


def human_size(n: int) -> str:
    return f"{n / 1024 / 1024:.1f} MiB" if n >= 1024 * 1024 else f"{n / 1024:.0f} KiB"


def _order(name: str) -> tuple:
    """MP3 first (Discord's player goes on top), then the text, the MIDI, and the sheet pages in order."""
    stem, _, ext = name.rpartition(".")
    page = stem.rpartition("-")[2]
    rank = {"mp3": 0, "abc": 1, "musicxml": 1, "mid": 2, "png": 3}.get(ext, 4)
    return rank, int(page) if page.isdigit() else 1, name


def post_name(name: str, stem: str) -> str:
    """ "tune.png" -> "tunesmith-<id>.png", "tune-2.png" -> "tunesmith-<id>-2.png"."""
    base, _, ext = name.rpartition(".")
    suffix = base[len("tune") :] if base.startswith("tune") else f"-{base}"
    return f"tunesmith-{stem}{suffix}.{ext}"


async def fit_files(art, stem: str, limit: int) -> tuple[list[tuple[str, bytes]], list[str]]:
    """The artifacts' files renamed `tunesmith-<id>[-page].<ext>` in posting order (MP3 first, sheet pages
    last), each within the upload limit: an MP3 that is too big is re-encoded at a lower bitrate, anything
    still too big is left out with a note; sheet pages past Discord's 10 attachments are left out too."""
    files, notes = [], []
    for name in sorted(art.files, key=_order):
        data = art.files[name]
        ext = name.rsplit(".", 1)[-1]
        if ext == "mp3" and len(data) > limit:
            seconds = float(art.facts.duration_s or 0) or len(data) * 8 / 128_000
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
            notes.append(
                f"The .{ext} file ({human_size(len(data))}) is over this server's upload limit "
                f"({human_size(limit)}) and was left out."
            )
            continue
        files.append((post_name(name, stem), data))
    if len(files) > MAX_ATTACHMENTS:
        notes.append(
            f"{len(files) - MAX_ATTACHMENTS} more sheet page(s) did not fit in one message; "
            f"the ABC/MIDI files have the whole tune."
        )
    return files[:MAX_ATTACHMENTS], notes
