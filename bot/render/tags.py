"""ID3v2.3 tags for the MP3: title, artist, album and genre, so a player shows the tune's name.

LAME (lameenc) writes no tags, and a tag is a few text frames in front of the MP3 frames, so we
write it here rather than add a dependency. Text is UTF-16 with a byte-order mark (ID3v2.3's only
Unicode encoding, read by every player); no unsynchronisation, no extended header.
"""

from __future__ import annotations

import struct

ARTIST = "Tunesmith"
_MAX_TEXT = 250  # characters per frame: a title is short; user text never makes a huge tag


def _syncsafe(n: int) -> bytes:
    """A 28-bit size in four 7-bit bytes (the tag header's size field)."""
    return bytes([(n >> 21) & 0x7F, (n >> 14) & 0x7F, (n >> 7) & 0x7F, n & 0x7F])


def _text_frame(frame_id: str, text: str) -> bytes:
    data = b"\x01" + text[:_MAX_TEXT].encode("utf-16")  # encoding 1: UTF-16 with BOM
    return frame_id.encode("ascii") + struct.pack(">I", len(data)) + b"\x00\x00" + data


def id3v2(*, title: str = "", artist: str = ARTIST, album: str = "", genre: str = "") -> bytes:
    """The tag bytes to put in front of an MP3 (empty fields are left out)."""
    frames = b"".join(
        _text_frame(fid, value)
        for fid, value in (("TIT2", title), ("TPE1", artist), ("TALB", album), ("TCON", genre))
        if value
    )
    return b"ID3\x03\x00\x00" + _syncsafe(len(frames)) + frames


def read_id3v2(data: bytes) -> dict[str, str]:
    """Text frames of an ID3v2.3 tag at the start of `data` ({"TIT2": "..."}); {} when there is none."""
    if data[:3] != b"ID3" or data[3] != 3:
        return {}
    size = (data[6] << 21) | (data[7] << 14) | (data[8] << 7) | data[9]
    out, i, end = {}, 10, 10 + size
    while i + 10 <= end and data[i : i + 4].strip(b"\x00"):
        fid, length = data[i : i + 4].decode("ascii"), struct.unpack(">I", data[i + 4 : i + 8])[0]
        body = data[i + 10 : i + 10 + length]
        if fid.startswith("T") and body[:1] == b"\x01":
            out[fid] = body[1:].decode("utf-16").rstrip("\x00")
        elif fid.startswith("T") and body[:1] == b"\x00":
            out[fid] = body[1:].decode("latin-1").rstrip("\x00")
        i += 10 + length
    return out
