"""Sheet music as a PNG: verovio (ABC or MusicXML -> SVG) and librsvg's rsvg-convert (SVG -> PNG).

verovio can ABORT or SEGFAULT the whole interpreter on malformed ABC (e.g. `[1"Am"`), so the drawing
runs in a child process (`python -m bot.render.sheet --serve DIR`), with a timeout; a crash there
becomes a RenderError here. A `SheetDrawer` keeps one child alive across tunes (verovio
imported once: starting a fresh Python for every tune cost ~0.25 CPU-seconds, a quarter of a tune), and
`start()` returns at once so the caller can render audio while the child draws. A child that crashes,
times out or has drawn MAX_DRAWINGS tunes is replaced.

Pages: verovio lays the music out on pages of a readable size (PAGE_HEIGHT; ~9 lines of music,
1100 x ~1500 px). A tune that fits one page is one PNG; a longer one gives one PNG per page
(`SheetJob.pages`; a last page that would hold a lone bar is avoided by making the pages a little
taller) and, for front ends that post one picture, all pages stacked into one tall PNG.
Every bar is drawn; only a text longer than MAX_DRAWN_ABC_CHARS (far beyond any generated tune) is
cut, and the renderer then says so in its warnings.
"""

from __future__ import annotations

import os
import re
import select
import shutil
import subprocess
import sys
import time
from pathlib import Path

from bot.render import scratch
from bot.render.child_env import child_env
from bot.render.errors import RenderError
from bot.render.sanitize import AbcFieldError, clean_abc

SHEET_TIMEOUT = 20.0  # seconds
FORMATS = ("abc", "musicxml")
MAX_TEXT_CHARS = 5_000_000  # MusicXML of a long chorale is ~1 MB
PAGE_WIDTH = 1600  # verovio units at scale 100; with SCALE below ~4 bars of a reel per line
SCALE = 45  # percent
PNG_WIDTH = 1100  # pixels: twice Discord's ~550 px preview, so it stays sharp when opened
PAGE_HEIGHT = 2200  # verovio units: a page of ~9 lines of music, 1100 x ~1500 px (the last page is shorter)
_MEASURE = re.compile(r'class="measure[" ]')  # one per bar in verovio's SVG (whatever the number of staves)
MAX_DRAWINGS = 200  # a drawing child is replaced after this many tunes
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
    """One drawing process: it imports verovio once, then draws one job after another
    (a format name on stdin -> "ok PAGES" or "error MESSAGE" on stdout). After MAX_DRAWINGS, a crash
    or a timeout it is replaced, so whatever verovio keeps between drawings stays bounded."""

    def __init__(self):
        self.dir = scratch.make_dir()  # named and marked as ours: a sweep can tell when it is stale
        self._err = open(self.dir / "stderr.txt", "ab")  # append mode: truncating it before a job is safe
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bot.render.sheet", "--serve", str(self.dir)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._err,
            env=child_env(python=True),  # no secrets: verovio reads user text
        )
        self.drawings = 0

    def alive(self) -> bool:
        return self.proc.poll() is None and self.drawings < MAX_DRAWINGS

    def submit(self, text: str, fmt: str) -> None:
        self._err.truncate(0)  # what verovio says about this tune only
        (self.dir / f"tune.{fmt}").write_text(text, encoding="utf-8")
        self.drawings += 1
        try:
            self.proc.stdin.write(f"{fmt}\n".encode())
            self.proc.stdin.flush()
        except OSError:  # the child died before the job arrived; result() reports it
            pass

    def result(self, timeout: float) -> tuple[bytes, ...]:
        """Wait for the job's pages (PNG each); RenderError on timeout, crash or failure (the child is
        stopped then). The job's files are removed either way."""
        try:
            reply = self._reply(timeout)
            if reply is None:
                self.cancel()
                raise RenderError(f"drawing the sheet music took longer than {timeout:g} s")
            if not reply:  # EOF: the child died
                code = self.proc.wait()
                self.cancel()
                if code < 0:
                    raise RenderError(
                        f"verovio crashed drawing this tune (signal {-code}); the notation is probably malformed"
                    )
                raise RenderError("could not draw the sheet music: the drawing process stopped")
            word, _, rest = reply.partition(" ")
            if word != "ok":
                raise RenderError(f"could not draw the sheet music: {rest or 'verovio failed'}")
            return tuple((self.dir / f"page-{n}.png").read_bytes() for n in range(1, int(rest) + 1))
        finally:
            for leftover in self.dir.glob("page-*.png"):
                leftover.unlink(missing_ok=True)

    def _reply(self, timeout: float) -> str | None:
        """The child's next line ("" when it closed stdout, i.e. died); None after `timeout` seconds."""
        fd, data = self.proc.stdout.fileno(), b""
        deadline = time.monotonic() + timeout
        while not data.endswith(b"\n"):
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                return None
            chunk = os.read(fd, 4096)
            if not chunk:
                return ""
            data += chunk
        return data.decode("utf-8", errors="replace").strip()

    def cancel(self) -> None:
        """Stop the child (drawing or idle) and remove its directory."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        for pipe in (self.proc.stdin, self.proc.stdout):
            try:
                pipe.close()
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

    def __init__(self, child: _Child, timeout: float, done):
        self._child, self._timeout, self._done = child, timeout, done
        self.pages: tuple[bytes, ...] = ()  # one PNG per page (after `result()`)

    def result(self) -> bytes:
        """All pages in one PNG (stacked when there are several)."""
        try:
            self.pages = self._child.result(self._timeout)
        finally:
            self._done(self._child)
        return self.pages[0] if len(self.pages) == 1 else _stack(list(self.pages))

    def cancel(self) -> None:
        self._child.cancel()
        self._done(self._child)


class SheetDrawer:
    """Starts drawings in one long-lived child process, replaced when it dies. One per Renderer."""

    def __init__(self):
        self._spare: _Child | None = None
        self._closed = False
        scratch.sweep()  # what a killed worker before us left behind

    def warm(self) -> None:
        """Have a drawing child ready (call when idle: starting one costs ~0.25 CPU-seconds)."""
        if self._spare is None or not self._spare.alive():
            if self._spare is not None:
                self._spare.cancel()
            scratch.sweep_now_and_then()
            self._spare = _Child()

    def start(self, text: str, fmt: str = "abc", timeout: float = SHEET_TIMEOUT, sanitise: bool = True) -> SheetJob:
        _check(text, fmt)
        self.warm()
        child, self._spare = self._spare, None
        child.submit(_prepared(text, fmt, sanitise), fmt)
        return SheetJob(child, timeout, self._taken_back)

    def _taken_back(self, child: _Child) -> None:
        """A job is over: its child draws the next one, unless it is gone or we are closed."""
        if self._closed or self._spare is not None or not child.alive():
            child.cancel()
        else:
            self._spare = child

    def close(self) -> None:
        self._closed = True
        if self._spare is not None:
            self._spare.cancel()
            self._spare = None


def start_sheet(text: str, fmt: str = "abc", timeout: float = SHEET_TIMEOUT, sanitise: bool = True) -> SheetJob:
    """Start drawing in a fresh child of its own (stopped afterwards); returns at once."""
    _check(text, fmt)
    child = _Child()
    child.submit(_prepared(text, fmt, sanitise), fmt)
    return SheetJob(child, timeout, _Child.cancel)


def _prepared(text: str, fmt: str, sanitise: bool) -> str:
    """What the child draws. ABC always passes the whitelist (bot/render/sanitize.py), whoever calls;
    `sanitise` adds the work-arounds for verovio's reader (sanitise_abc)."""
    if fmt != "abc":
        return text
    try:
        text = clean_abc(trim_abc(text)[0])
    except AbcFieldError as exc:
        raise RenderError(str(exc)) from None
    return sanitise_abc(text) if sanitise else text


def sheet_png(text: str, fmt: str = "abc", timeout: float = SHEET_TIMEOUT) -> bytes:
    """ABC or MusicXML text -> one PNG (white background, pages stacked); RenderError on failure."""
    return start_sheet(text, fmt, timeout).result()


def draw(text: str, fmt: str) -> list[bytes]:
    """What the child does: verovio -> SVG pages -> one PNG per page. Runs verovio in THIS process."""
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
    if len(svgs) > 1 and len(_MEASURE.findall(svgs[-1])) < 2:  # a last page holding a lone bar: taller pages
        toolkit.setOptions({"pageHeight": PAGE_HEIGHT * len(svgs) // (len(svgs) - 1)})
        toolkit.redoLayout()
        svgs = [toolkit.renderToSVG(page) for page in range(1, toolkit.getPageCount() + 1)]
    if not any('class="note' in svg for svg in svgs):
        raise SystemExit("verovio found no notes to draw")
    return [rasterise(svg) for svg in svgs]


def rasterise(svg: str) -> bytes:
    """SVG -> PNG PNG_WIDTH pixels wide on white, by librsvg's rsvg-convert (C; a third of the CPU
    cairosvg took, which was a fifth of a tune's cost)."""
    command = ["rsvg-convert", "--width", str(PNG_WIDTH), "--keep-aspect-ratio", "--background-color", "white"]
    try:
        made = subprocess.run(
            command, input=svg.encode("utf-8"), capture_output=True, timeout=SHEET_TIMEOUT, env=child_env()
        )
    except FileNotFoundError:
        raise SystemExit("rsvg-convert is not installed (Debian/Ubuntu: apt-get install librsvg2-bin)") from None
    if made.returncode != 0 or not made.stdout.startswith(b"\x89PNG"):
        raise SystemExit(f"rsvg-convert could not draw the page: {made.stderr.decode(errors='replace')[:200]}")
    return made.stdout


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
    """Child: import the heavy modules, then for each format name on stdin draw DIR/tune.FMT to
    DIR/page-N.png and answer "ok N" (or "error MESSAGE") on stdout. Ends on EOF (the parent has gone or
    is done with us) or when the parent was killed while we drew (nobody will read the pages)."""
    folder = Path(directory)
    if (folder / scratch.OWNERS).exists():
        scratch.record(folder, os.getpid())  # while we live, a sweep leaves the folder alone
    replies = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # whatever a library prints goes to the log, never into our replies
    import verovio  # noqa: F401  (imported now, before the first job arrives: that is the point)

    try:
        for line in sys.stdin:
            fmt = line.strip()
            if fmt not in FORMATS:
                break
            try:
                pages = draw((folder / f"tune.{fmt}").read_text(encoding="utf-8"), fmt)
                for n, page in enumerate(pages, 1):
                    (folder / f"page-{n}.png").write_bytes(page)
                replies.write(f"ok {len(pages)}\n")
            except (Exception, SystemExit) as exc:  # a bad tune is an answer, not the end of the child
                replies.write(f"error {' '.join(str(exc).split()) or type(exc).__name__}\n")
            if scratch.owner_gone(folder):  # killed while we drew (crash, job timeout)
                break
    except (BrokenPipeError, KeyboardInterrupt):
        pass
    shutil.rmtree(folder, ignore_errors=True)  # the parent removes it too; whoever is first
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--serve":
        sys.exit(_serve(sys.argv[2]))
    sys.exit("usage: python -m bot.render.sheet --serve DIR  (used by bot/render/sheet.py; not a user command)")
