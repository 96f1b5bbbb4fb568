"""Sheet music: verovio in a child process -> a real PNG; verovio's crashes stay in the child."""

from __future__ import annotations

import io
import subprocess
import sys
import tempfile
from pathlib import Path

import mido
import numpy as np
import pytest
from PIL import Image

from bot.render.renderer import Renderer, RenderError, sheet_png
from bot.render.sheet import MAX_DRAWN_ABC_CHARS, PNG_WIDTH, SheetDrawer, _stack, sanitise_abc, start_sheet, trim_abc

EXAMPLES = Path(__file__).resolve().parent.parent / "bot" / "examples"
CRASHES_VEROVIO = 'X:1\nT:Ending then chord\nM:4/4\nL:1/8\nK:Am\n|:ABcd efga|[1"Am"a8:|[2"E"e8|]\n'
MUSICXML = """<?xml version="1.0" encoding="UTF-8"?>
<score-partwise version="3.1"><part-list><score-part id="P1"><part-name>Soprano</part-name></score-part></part-list>
<part id="P1"><measure number="1"><attributes><divisions>1</divisions><key><fifths>0</fifths></key>
<time><beats>4</beats><beat-type>4</beat-type></time><clef><sign>G</sign><line>2</line></clef></attributes>
<note><pitch><step>C</step><octave>5</octave></pitch><duration>2</duration><type>half</type></note>
<note><pitch><step>E</step><octave>5</octave></pitch><duration>2</duration><type>half</type></note></measure>
<measure number="2"><note><pitch><step>G</step><octave>4</octave></pitch><duration>4</duration><type>whole</type></note>
</measure></part></score-partwise>"""


def image(png: bytes) -> Image.Image:
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    picture = Image.open(io.BytesIO(png))
    picture.load()
    return picture


def dark_fraction(picture: Image.Image) -> float:
    return float((np.asarray(picture.convert("L")) < 128).mean())


def test_a_tune_becomes_a_readable_png_whose_height_grows_with_the_tune():
    long_tune = image(sheet_png((EXAMPLES / "anvil_reel.abc").read_text()))
    short_tune = image(sheet_png("X:1\nT:Four bars\nM:4/4\nL:1/8\nK:G\nGABc dedB|GABc d4|GABc dedB|G8|]\n"))
    assert long_tune.width == short_tune.width == PNG_WIDTH  # sharp at Discord's ~550 px preview x2
    assert long_tune.height > 2 * short_tune.height  # 16 written bars + endings vs 4 bars
    assert long_tune.convert("RGB").getpixel((0, 0)) == (255, 255, 255)  # white, readable in dark mode
    assert 0.01 < dark_fraction(long_tune) < 0.3  # there is ink, but it is not a black page


def test_an_ending_followed_by_a_chord_symbol_is_drawn_not_fatal():
    assert '[1 "Am"' in sanitise_abc(CRASHES_VEROVIO) and '|2 "G"' in sanitise_abc('|2"G"')
    assert image(sheet_png(CRASHES_VEROVIO)).height > 100


def test_verovio_crashing_in_the_child_is_an_error_here():
    job = start_sheet(CRASHES_VEROVIO, "abc", sanitise=False)  # the raw text aborts verovio
    with pytest.raises(RenderError, match="verovio crashed"):
        job.result()


def test_musicxml_from_the_note_model_is_drawn():
    assert image(sheet_png(MUSICXML, fmt="musicxml")).width == PNG_WIDTH


@pytest.mark.parametrize(
    "text,fmt,kwargs,message",
    [
        ("X:1\nK:C\nC|\n", "pdf", {}, "format 'pdf' is not known"),
        ("  ", "abc", {}, "no music to draw"),
        ("<score-partwise><part", "musicxml", {}, "could not draw the sheet music"),
        ("X:1\nK:C\nCDEF|\n", "abc", {"timeout": 0.001}, "took longer than 0.001 s"),
    ],
)
def test_sheet_errors_name_the_problem(text, fmt, kwargs, message):
    with pytest.raises(RenderError, match=message):
        sheet_png(text, fmt, **kwargs)


def test_the_renderer_posts_audio_even_when_the_sheet_cannot_be_drawn():
    with Renderer() as renderer:
        good = renderer.render_abc((EXAMPLES / "forge_waltz.abc").read_text(), instrument="fiddle", max_seconds=5)
        assert image(good.png).width == PNG_WIDTH and not any("sheet" in w for w in good.warnings)
        # this malformed line makes verovio segfault (verovio 4-6); abc2midi copes with it
        bad = renderer.render_abc("X:1\nM:4/4\nL:1/8\nK:C\nA2 ]]]] B2 {{{ |\n", instrument="fiddle")
        assert bad.mp3 and bad.png is None
        assert any(w.startswith("no sheet music:") for w in bad.warnings)
        again = renderer.render_abc("X:1\nM:4/4\nL:1/8\nK:C\nCDEF GABc|\n", instrument="fiddle")
        assert image(again.png).height > 50  # the next drawing works again


def test_pages_are_stacked_into_one_tall_image():
    def page(height):
        out = io.BytesIO()
        Image.new("RGB", (PNG_WIDTH, height), "white").save(out, format="PNG")
        return out.getvalue()

    tall = image(_stack([page(300), page(200)]))
    assert tall.size == (PNG_WIDTH, 500)


def test_a_spare_drawing_process_goes_away_with_its_parent_or_on_close():
    drawer = SheetDrawer()
    drawer.warm()
    spare = drawer._spare
    drawer.close()
    assert spare.proc.poll() is not None and not spare.dir.exists()
    # a spare whose parent vanished sees stdin close, and removes its own folder
    folder = Path(tempfile.mkdtemp(prefix="tunesmith-sheet-test-"))
    child = subprocess.run([sys.executable, "-m", "bot.render.sheet", "--serve", str(folder)], input=b"", timeout=60)
    assert child.returncode == 0 and not folder.exists()


def test_render_midi_draws_the_musicxml_alongside_the_audio():
    midi = mido.MidiFile(ticks_per_beat=480)
    midi.tracks.append(
        mido.MidiTrack(
            [mido.Message("note_on", note=72, velocity=90), mido.Message("note_off", note=72, velocity=0, time=960)]
        )
    )
    data = io.BytesIO()
    midi.save(file=data)
    with Renderer() as renderer:
        result = renderer.render_midi(data.getvalue(), musicxml=MUSICXML)
        assert image(result.png).width == PNG_WIDTH and result.mp3
        broken = renderer.render_midi(data.getvalue(), musicxml="<score-partwise><part")
        assert broken.png is None and broken.mp3 and any("no sheet music" in w for w in broken.warnings)


def test_a_very_long_tune_is_drawn_up_to_a_limit():
    line = "GABG dGBG|c2ec BdgB|AGAB cBAG|FGAF DEFA|\n"
    abc = "X:1\nT:Very long\nM:4/4\nL:1/8\nK:G\n" + line * 400  # 1,600 bars: verovio would take minutes
    trimmed, cut = trim_abc(abc)
    assert cut and trimmed.startswith("X:1\nT:Very long") and len(trimmed) <= MAX_DRAWN_ABC_CHARS
    assert trimmed.endswith(line) and trim_abc(trimmed) == (trimmed, False)
    with Renderer() as renderer:
        result = renderer.render_abc(abc, instrument="fiddle", max_seconds=3)
    assert image(result.png).height > 2000
    assert "the sheet music shows only the beginning of this long tune" in result.warnings


def test_a_long_tune_is_drawn_whole_on_readable_pages():
    """Every bar of a 64-bar reel with chord symbols, on several pages; chord symbols drawn too."""
    bars = ['"G"GABG "C"c2ec|', '"G"BdgB "D"AGAB|', '"C"cBAG "D"FGAF|', '"G"DEFA G4|']
    abc = "X:1\nT:Long reel\nM:4/4\nL:1/8\nK:G\n" + "\n".join("".join(bars) for _ in range(16)) + "|]\n"
    with Renderer() as renderer:
        result = renderer.render_abc(abc, instrument="fiddle", max_seconds=5)
    assert not any("only the beginning" in w for w in result.warnings)
    pages = [image(p) for p in result.pages]
    assert len(pages) >= 2 and all(p.width == PNG_WIDTH and p.height < 1700 for p in pages)
    assert image(result.png).height == sum(p.height for p in pages)
    assert dark_fraction(pages[-1]) > 0.005  # the last page has music on it
    script = (
        "import sys, verovio; from bot.render.sheet import *; t = verovio.toolkit(); t.setInputFrom('abc');"
        "t.setOptions({'pageWidth': PAGE_WIDTH, 'pageHeight': PAGE_HEIGHT, 'adjustPageHeight': True,"
        "'scale': SCALE, 'breaks': 'auto'}); t.loadData(sanitise_abc(sys.stdin.read()));"
        "svg = ''.join(t.renderToSVG(p) for p in range(1, t.getPageCount() + 1));"
        "print(svg.count('class=\"measure\"'), svg.count('class=\"harm\"'))"
    )
    counted = subprocess.run(
        [sys.executable, "-c", script], input=abc, capture_output=True, text=True, timeout=60, check=True
    )
    measures, harmonies = map(int, counted.stdout.split())
    assert measures == 64 and harmonies == 7 * 16


def test_a_double_repeat_is_drawn_as_a_bar_line():
    """verovio reads `::` as no bar line (two bars drawn as one); `:|:` it draws."""
    abc = "X:1\nT:A::B\nM:6/8\nL:1/8\nK:D\nDFA dfa|d2B B2B ::\nF2F F2F|B2A FDC:|\n"
    out = sanitise_abc(abc)
    assert "B2B :|:\nF2F" in out and "T:A::B" in out


def test_one_drawing_process_draws_tune_after_tune_and_is_replaced_when_it_crashes():
    drawer = SheetDrawer()
    try:
        first = drawer.start("X:1\nM:4/4\nL:1/8\nK:G\nGABc dedB|G8|]\n")
        pid = first._child.proc.pid
        assert image(first.result()).width == PNG_WIDTH
        refused = drawer.start("<score-partwise><part", "musicxml")  # an answer, not a crash
        assert refused._child.proc.pid == pid
        with pytest.raises(RenderError, match="could not draw the sheet music"):
            refused.result()
        crash = drawer.start(CRASHES_VEROVIO, sanitise=False)
        assert crash._child.proc.pid == pid
        with pytest.raises(RenderError, match="verovio crashed"):
            crash.result()
        again = drawer.start("X:1\nM:3/4\nL:1/8\nK:D\nABcd ef|d6|]\n")
        assert again._child.proc.pid != pid  # a new child took over
        png = again.result()
        assert image(png).width == PNG_WIDTH and again.pages == (png,)  # one page
    finally:
        drawer.close()
