"""Sheet music as a PNG: verovio (ABC or MusicXML -> SVG) and cairosvg (SVG -> PNG).

verovio can ABORT or SEGFAULT the whole interpreter on malformed ABC (e.g. `[1"Am"`), so the drawing
runs in a child process (`python -m bot.sheet FMT IN OUT`) with a timeout; a crash there becomes a
RenderError here. `start_sheet` returns at once, so the caller can render audio meanwhile.
"""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from bot.render_errors import RenderError

SHEET_TIMEOUT = 20.0  # seconds
FORMATS = ("abc", "musicxml")
PAGE_WIDTH = 1800  # verovio units at scale 100; with SCALE below ~4 bars of a reel per line
SCALE = 45  # percent
PNG_WIDTH = 1100  # pixels: twice Discord's ~550 px preview, so it stays sharp when opened
MAX_PAGE_HEIGHT = 60000  # verovio's maximum; with adjustPageHeight most tunes fit one page


def sanitise_abc(abc: str) -> str:
    """Work around verovio's ABC reader: an ending bracket followed by a chord symbol (`[1"Am"`,
    `|2"G"`) aborts it, so put a space between them; `%%` directives it does not know are dropped."""
    abc = re.sub(r'([\[|]\d)(")', r"\1 \2", abc)
    return "\n".join(line for line in abc.split("\n") if not line.startswith("%%"))


class SheetJob:
    """A running verovio child; `result()` waits for it and returns the PNG bytes."""

    def __init__(self, text: str, fmt: str = "abc", timeout: float = SHEET_TIMEOUT):
        if fmt not in FORMATS:
            raise RenderError(f"sheet music format '{fmt}' is not known; use {' or '.join(FORMATS)}")
        if not text or not text.strip():
            raise RenderError("there is no music to draw")
        self.timeout = timeout
        self._dir = Path(tempfile.mkdtemp(prefix="tunesmith-sheet-"))
        source, self._out = self._dir / f"tune.{fmt}", self._dir / "tune.png"
        source.write_text(sanitise_abc(text) if fmt == "abc" else text, encoding="utf-8")
        self._err = open(self._dir / "stderr.txt", "wb")
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "bot.sheet", fmt, str(source), str(self._out)],
            stdin=subprocess.DEVNULL, stdout=self._err, stderr=self._err)

    def result(self) -> bytes:
        try:
            try:
                code = self._proc.wait(timeout=self.timeout)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
                raise RenderError(f"drawing the sheet music took longer than {self.timeout:g} s") from None
            self._err.close()
            if code == 0 and self._out.is_file():
                return self._out.read_bytes()
            detail = (self._dir / "stderr.txt").read_text(errors="replace").strip().split("\n")[-1]
            if code < 0:
                raise RenderError(f"verovio crashed drawing this tune (signal {-code}); "
                                  "the notation is probably malformed")
            raise RenderError(f"could not draw the sheet music: {detail or 'verovio failed'}")
        finally:
            self._err.close()
            shutil.rmtree(self._dir, ignore_errors=True)

    def cancel(self) -> None:
        if self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()
        self._err.close()
        shutil.rmtree(self._dir, ignore_errors=True)


def start_sheet(text: str, fmt: str = "abc", timeout: float = SHEET_TIMEOUT) -> SheetJob:
    return SheetJob(text, fmt, timeout)


def sheet_png(text: str, fmt: str = "abc", timeout: float = SHEET_TIMEOUT) -> bytes:
    """ABC or MusicXML text -> one PNG (white background, all pages stacked); RenderError on failure."""
    return SheetJob(text, fmt, timeout).result()


def draw(text: str, fmt: str) -> bytes:
    """What the child process does: verovio -> SVG page(s) -> PNG. Runs verovio in THIS process."""
    import io

    import cairosvg
    import verovio
    from PIL import Image

    toolkit = verovio.toolkit()
    toolkit.setInputFrom(fmt)
    toolkit.setOptions({"pageWidth": PAGE_WIDTH, "pageHeight": MAX_PAGE_HEIGHT, "adjustPageHeight": True,
                        "scale": SCALE, "footer": "none", "breaks": "auto"})
    if not toolkit.loadData(text) or toolkit.getPageCount() < 1:
        raise SystemExit("verovio could not read the notation")
    pages = []
    for page in range(1, toolkit.getPageCount() + 1):
        svg = toolkit.renderToSVG(page)
        png = cairosvg.svg2png(bytestring=svg.encode("utf-8"), output_width=PNG_WIDTH, background_color="white")
        pages.append(Image.open(io.BytesIO(png)).convert("RGB"))
    if len(pages) == 1:
        image = pages[0]
    else:  # one tall image
        image = Image.new("RGB", (PNG_WIDTH, sum(p.height for p in pages)), "white")
        top = 0
        for p in pages:
            image.paste(p, (0, top))
            top += p.height
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=False)
    return out.getvalue()


def _child_main(argv: list[str]) -> int:
    fmt, source, target = argv
    png = draw(Path(source).read_text(encoding="utf-8"), fmt)
    Path(target).write_bytes(png)
    return 0


if __name__ == "__main__":
    sys.exit(_child_main(sys.argv[1:]))
