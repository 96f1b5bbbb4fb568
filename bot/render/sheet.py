"""Sheet music as a PNG: verovio (ABC or MusicXML -> SVG) and cairosvg (SVG -> PNG).

verovio can ABORT or SEGFAULT the whole interpreter on malformed ABC (e.g. `[1"Am"`), so the drawing
runs in a child process (`python -m bot.render.sheet --serve DIR`), one child per drawing, with a timeout;
a crash there becomes a RenderError here. A `SheetDrawer` keeps one child started ahead of time
(verovio and cairosvg already imported, waiting on stdin), which saves ~0.3 s per tune, and
`start()` returns at once so the caller can render audio while the child draws.

Pages: verovio lays the music out on pages of a readable size (PAGE_HEIGHT; ~9 lines of music,
1100 x ~1500 px). A tune that fits one page is one PNG; a longer one gives one PNG per page
(`SheetJob.pages`) and, for front ends that post one picture, all pages stacked into one tall PNG.
Every bar is drawn; only a text longer than MAX_DRAWN_ABC_CHARS (far beyond any generated tune) is
cut, and the renderer then says so in its warnings.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from bot.render import scratch
from bot.render.errors import RenderError

SHEET_TIMEOUT = 20.0  # seconds
FORMATS = ("abc", "musicxml")
MAX_TEXT_CHARS = 5_000_000  # MusicXML of a long chorale is ~1 MB
PAGE_WIDTH = 1600  # verovio units at scale 100; with SCALE below ~4 bars of a reel per line
SCALE = 45  # percent
PNG_WIDTH = 1100  # pixels: twice Discord's ~550 px preview, so it stays sharp when opened
PAGE_HEIGHT = 2200  # verovio units: a page of ~9 lines of music, 1100 x ~1500 px (the last page is shorter)
MAX_DRAWN_ABC_CHARS = 4000  # a 128-bar generated reel with chords is ~2,600 characters (1.7 s to draw);
# ~0.5 s per 40 bars, so user text beyond this is drawn up to here only


def trim_abc(abc: str, limit: int = MAX_DRAWN_ABC_CHARS) -> tuple[str, bool]:
    """The tune cut after the last whole line that fits in `limit` characters (the header is always
    kept); True when something was cut."""
    if len(abc) <= limit:
        return abc, False
    lines, kept, size, in_body = abc.split("\n"), [], 0, False
    for line in lines:
        size += len(line) + 1
        if in_body and size > limit:
            break
        kept.append(line)
        in_body = in_body or line.startswith("K:")
    return "\n".join(kept) + "\n", True


def sanitise_abc(abc: str) -> str:
    """Work around verovio's ABC reader: an ending bracket followed by a chord symbol (`[1"Am"`,
    `|2"G"`) aborts it, so put a space between them; it reads the double repeat `::` as no bar line at
    all (two bars drawn as one), so write it `:|:`; `%%` directives (MIDI etc.) are dropped."""
    abc = re.sub(r'([\[|]\d)(")', r"\1 \2", abc)
    lines = [line for line in abc.split("\n") if not line.startswith("%%")]
    return "\n".join(line if _FIELD_LINE.match(line) else re.sub(r"(?<![:|])::(?![:|])", ":|:", line) for line in lines)


_FIELD_LINE = re.compile(r"^\s*([A-Za-z]:|%)")


class _Child:
    """One drawing process. It starts, imports verovio, then waits for one job on stdin."""

    def __init__(self):
        self.pages: tuple[bytes, ...] = ()
        self.dir = scratch.make_dir()  # named and marked as ours: a sweep can tell when it is stale
        self._err = open(self.dir / "stderr.txt", "wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bot.render.sheet", "--serve", str(self.dir)],
            stdin=subprocess.PIPE,
            stdout=self._err,
            stderr=self._err,
        )
        self.timeout = SHEET_TIMEOUT

    def submit(self, text: str, fmt: str, timeout: float) -> None:
        self.timeout = timeout
        (self.dir / f"tune.{fmt}").write_text(text, encoding="utf-8")
        try:
            self.proc.stdin.write(f"{fmt}\n".encode())
            self.proc.stdin.close()
        except OSError:  # the child died before the job arrived; result() reports it
            pass

    def result(self) -> bytes:
        """Wait for the PNG (every page stacked); RenderError on timeout, crash or failure. The
        pages one by one are in `self.pages` afterwards. Cleans up either way."""
        try:
            try:
                code = self.proc.wait(timeout=self.timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise RenderError(f"drawing the sheet music took longer than {self.timeout:g} s") from None
            out = self.dir / "tune.png"
            if code == 0 and out.is_file():
                png = out.read_bytes()
                pages = sorted(self.dir.glob("page-*.png"), key=lambda p: int(p.stem.split("-")[1]))
                self.pages = tuple(p.read_bytes() for p in pages) or (png,)
                return png
            if code < 0:
                raise RenderError(
                    f"verovio crashed drawing this tune (signal {-code}); the notation is probably malformed"
                )
            self._err.close()
            lines = (self.dir / "stderr.txt").read_text(errors="replace").strip().split("\n")
            raise RenderError(f"could not draw the sheet music: {lines[-1] or 'verovio failed'}")
        finally:
            self.cancel()

    def cancel(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self.proc.stdin and not self.proc.stdin.closed:
            try:
                self.proc.stdin.close()
            except OSError:
                pass
        self._err.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def _check(text: str, fmt: str) -> None:
    if fmt not in FORMATS:
        raise RenderError(f"sheet music format '{fmt}' is not known; use {' or '.join(FORMATS)}")
    if not isinstance(text, str) or not text.strip():
        raise RenderError("there is no music to draw")
    if len(text) > MAX_TEXT_CHARS:
        raise RenderError(f"the music text is {len(text):,} characters; the limit is {MAX_TEXT_CHARS:,}")


class SheetJob:
    """A drawing under way; `result()` waits for the PNG bytes, `cancel()` abandons it."""

    def __init__(self, child: _Child):
        self._child = child

    def result(self) -> bytes:
        return self._child.result()

    @property
    def pages(self) -> tuple[bytes, ...]:
        """One PNG per page (after `result()`)."""
        return self._child.pages

    def cancel(self) -> None:
        self._child.cancel()


class SheetDrawer:
    """Starts drawings, keeping one child process warm for the next one. One per Renderer."""

    def __init__(self):
        self._spare: _Child | None = None
        scratch.sweep()  # what a killed worker before us left behind

    def warm(self) -> None:
        """Start the next child now (call when idle, e.g. after a tune is finished)."""
        if self._spare is None or self._spare.proc.poll() is not None:
            if self._spare is not None:
                self._spare.cancel()
            scratch.sweep_now_and_then()
            self._spare = _Child()

    def start(self, text: str, fmt: str = "abc", timeout: float = SHEET_TIMEOUT, sanitise: bool = True) -> SheetJob:
        _check(text, fmt)
        self.warm()
        child, self._spare = self._spare, None
        child.submit(_prepared(text, fmt, sanitise), fmt, timeout)
        return SheetJob(child)

    def close(self) -> None:
        if self._spare is not None:
            self._spare.cancel()
            self._spare = None


def start_sheet(text: str, fmt: str = "abc", timeout: float = SHEET_TIMEOUT, sanitise: bool = True) -> SheetJob:
    """Start drawing in a fresh child; returns at once."""
    _check(text, fmt)
    child = _Child()
    child.submit(_prepared(text, fmt, sanitise), fmt, timeout)
    return SheetJob(child)


def _prepared(text: str, fmt: str, sanitise: bool) -> str:
    if fmt != "abc":
        return text
    text = trim_abc(text)[0]
    return sanitise_abc(text) if sanitise else text


def sheet_png(text: str, fmt: str = "abc", timeout: float = SHEET_TIMEOUT) -> bytes:
    """ABC or MusicXML text -> one PNG (white background, pages stacked); RenderError on failure."""
    return start_sheet(text, fmt, timeout).result()


def draw(text: str, fmt: str) -> list[bytes]:
    """What the child does: verovio -> SVG pages -> one PNG per page. Runs verovio in THIS process."""
    import cairosvg
    import verovio

    toolkit = verovio.toolkit()
    toolkit.setInputFrom(fmt)
    toolkit.setOptions(
        {
            "pageWidth": PAGE_WIDTH,
            "pageHeight": PAGE_HEIGHT,
            "adjustPageHeight": True,
            "scale": SCALE,
            "footer": "none",
            "breaks": "auto",
        }
    )
    if not toolkit.loadData(text) or toolkit.getPageCount() < 1:
        raise SystemExit("verovio could not read the notation")
    svgs = [toolkit.renderToSVG(page) for page in range(1, toolkit.getPageCount() + 1)]
    if not any('class="note' in svg for svg in svgs):
        raise SystemExit("verovio found no notes to draw")
    return [
        cairosvg.svg2png(bytestring=svg.encode("utf-8"), output_width=PNG_WIDTH, background_color="white")
        for svg in svgs
    ]


def _stack(pages: list[bytes]) -> bytes:
    """Several PNG pages -> one tall PNG."""
    import io

    from PIL import Image

    images = [Image.open(io.BytesIO(p)).convert("RGB") for p in pages]
    tall = Image.new("RGB", (max(i.width for i in images), sum(i.height for i in images)), "white")
    top = 0
    for image in images:
        tall.paste(image, (0, top))
        top += image.height
    out = io.BytesIO()
    tall.save(out, format="PNG")
    return out.getvalue()


def _serve(directory: str) -> int:
    """Child: import the heavy modules, wait for the format on stdin, draw DIR/tune.FMT to DIR/tune.png."""
    folder = Path(directory)
    if (folder / scratch.OWNERS).exists():
        scratch.record(folder, os.getpid())  # while we live, a sweep leaves the folder alone
    import cairosvg  # noqa: F401  (imported now, before the job arrives: that is the point)
    import verovio  # noqa: F401

    fmt = sys.stdin.readline().strip()
    if fmt not in FORMATS:  # stdin closed without a job: the parent has gone; tidy up after it
        shutil.rmtree(folder, ignore_errors=True)
        return 0
    try:
        pages = draw((folder / f"tune.{fmt}").read_text(encoding="utf-8"), fmt)
        if len(pages) > 1:
            for n, page in enumerate(pages, 1):
                (folder / f"page-{n}.png").write_bytes(page)
        (folder / "tune.png").write_bytes(pages[0] if len(pages) == 1 else _stack(pages))
    finally:
        if scratch.owner_gone(folder):  # killed while we drew (crash, job timeout): nobody will read it
            shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--serve":
        sys.exit(_serve(sys.argv[2]))
    sys.exit("usage: python -m bot.render.sheet --serve DIR  (used by bot/render/sheet.py; not a user command)")
