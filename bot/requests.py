"""ComposeRequest: the one typed request every front end produces (CLI, Discord options, chat text).

Two ways in, one set of checks:
    parse_text("compose style:jig length:64 key:G tempo:110")   # chat / message commands
    from_options(style="jig", length=64, key="G", tempo=110)     # Discord options, CLI flags, stored JSON
Both return a frozen ComposeRequest or raise RequestError, whose message names the option, the value
and what is allowed, and is safe to show to the user.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import math
import re
from dataclasses import dataclass, field

from bot import numbers
from bot.instruments import INSTRUMENTS, resolve_instrument
from bot.render.sanitize import AbcFieldError, clean_abc
from bot.styles import DEFAULT_STYLE, STYLES
from model.abc.notation import read_header
from model.keys import MODE_NAMES, parse_key
from model.meter import METER_ALIASES


class RequestError(ValueError):
    """Bad user input. The message names the option, the value and what is allowed; safe to show."""


@dataclass(frozen=True)
class ComposeRequest:
    style: str  # a key of bot.styles.STYLES
    length: int  # bars as played, repeats expanded (a 32-bar jig is AABB with 8-bar parts, written as 16)
    key: str | None = None  # canonical tonic+mode, e.g. "Dmaj", "Ador", "F#min", "Bbmix"; None: model's choice
    tempo: int | None = None  # beats per minute (the style's beat); None: the style's default
    temperature: float = 0.9
    seed: int | None = None  # None: the worker picks one and records it
    instrument: str | None = None  # a key of bot.instruments.INSTRUMENTS; None: the style's default
    meter: str | None = None  # override the style's meter, e.g. "2/4"
    continue_abc: str | None = None  # user ABC (header + some bars) to continue
    accompaniment: bool = True  # bass + chords from chord symbols when present
    form: str | None = None  # part letters in playing order, e.g. "AABB", "ABAC"; None: the style's usual form
    # Set only by the tunes service for an A/B test (bot/ab.py): the ABC weights to use. Never read from
    # user input, never stored (to_dict leaves it out): the tune records the model version instead.
    abc_weights: str | None = field(default=None, repr=False)
    # Set only by from_options when it moved the length to one the style comes in: what to tell the user.
    # Not stored either (the stored length is the one composed).
    note: str | None = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict:
        """Plain JSON-able dict (stored with each tune); from_options(**d) reads it back."""
        d = dataclasses.asdict(self)
        d.pop("abc_weights")
        d.pop("note")
        return d


# Limits: (low, high) inclusive.
LENGTH = (4, 128)
TEMPO = (40, 240)
TEMPERATURE = (0.1, 2.0)
SEED = (0, 2**31 - 1)
MAX_CONTINUE_CHARS = 8000
MAX_TEXT_CHARS = 2000
DEFAULT_LENGTH = 32
METERS = ("2/4", "3/4", "4/4", "6/8", "9/8", "12/8", "3/8", "2/2")
# What each model can do (model/abc/sample.py, model/notes/sample.py): checked here so that the user
# hears about it at once, not after waiting in the queue.
MODEL_MODES = {"abc": ("maj", "min", "dor", "mix"), "notes": ("maj", "min")}
MODEL_METERS = {"abc": METERS, "notes": ("4/4", "3/4")}

# Option names people type -> field name.
ALIASES = {
    "style": "style",
    "type": "style",
    "kind": "style",
    "length": "length",
    "bars": "length",
    "len": "length",
    "measures": "length",
    "key": "key",
    "k": "key",
    "tempo": "tempo",
    "bpm": "tempo",
    "speed": "tempo",
    "temperature": "temperature",
    "temp": "temperature",
    "t": "temperature",
    "seed": "seed",
    "instrument": "instrument",
    "inst": "instrument",
    "instr": "instrument",
    "meter": "meter",
    "time": "meter",
    "m": "meter",
    "metre": "meter",
    "accompaniment": "accompaniment",
    "accomp": "accompaniment",
    "chords": "accompaniment",
    "continue_abc": "continue_abc",
    "form": "form",
    "parts": "form",
    "structure": "form",
}
FIELDS = tuple(f.name for f in dataclasses.fields(ComposeRequest) if f.name not in ("abc_weights", "note"))


def _norm_style(name: str) -> str:
    return re.sub(r"[\s_\-]+", "", name.lower())


_STYLE_LOOKUP = {_norm_style(name): name for name in STYLES}


def parse_style(value: object) -> str:
    text = str(value).strip()
    found = _STYLE_LOOKUP.get(_norm_style(text))
    if found:
        return found
    near = difflib.get_close_matches(_norm_style(text), list(_STYLE_LOOKUP), n=1)
    hint = f"did you mean {_STYLE_LOOKUP[near[0]]}? " if near else ""
    raise RequestError(f"style '{_clip(text)}' is not known; {hint}try {', '.join(STYLES)}")


def _or_list(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]


def _clip(text: str, n: int = 40) -> str:
    text = "".join(ch if ch.isprintable() else "?" for ch in str(text))
    return text if len(text) <= n else text[:n] + "…"


def _number(name: str, value: object, kind: type, low, high):
    """int/float from an int, float or text; RequestError naming the option and the range."""
    if isinstance(value, bool):
        raise RequestError(f"{name} {value!r} is not a number; use {low} to {high}")
    if isinstance(value, str) and not numbers.is_plain_number(value, kind):  # ASCII digits only
        raise RequestError(f"{name} '{_clip(value)}' is {numbers.problem(value, kind)}; use {low} to {high}")
    try:
        if kind is int and isinstance(value, float):
            if not value.is_integer():
                raise ValueError
            number = int(value)
        elif kind is int and isinstance(value, str):
            number = int(value.strip(), 10)
        else:
            number = kind(value)
    except (TypeError, ValueError, OverflowError):
        what = "a whole number" if kind is int else "a number"
        raise RequestError(f"{name} '{_clip(value)}' is not {what}; use {low} to {high}") from None
    if isinstance(number, float) and not math.isfinite(number):
        raise RequestError(f"{name} '{_clip(value)}' is not a number; use {low} to {high}")
    if not low <= number <= high:
        raise RequestError(f"{name} {_clip(value)} is out of range; use {low} to {high}")
    return number


def _bool(name: str, value: object) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on", "y"):
        return True
    if text in ("0", "false", "no", "off", "n", "none"):
        return False
    raise RequestError(f"{name} '{_clip(value)}' is not yes or no")


def _meter(value: object, style: str) -> str:
    text = "".join(str(value).split())
    text = METER_ALIASES.get(text.upper(), text)  # C, c| ...
    allowed = MODEL_METERS[STYLES[style].model]
    if text in allowed:
        return text
    raise RequestError(f"meter '{_clip(value)}' is not available for {style}; use one of {', '.join(allowed)}")


def _continue_abc(value: object) -> str:
    if not isinstance(value, str):
        raise RequestError("the tune to continue must be ABC text")
    text = value.replace("\r\n", "\n").replace("\r", "\n").strip()
    if not text:
        raise RequestError("the tune to continue is empty; give an ABC header (X:, M:, L:, K:) and a few bars")
    if len(text) > MAX_CONTINUE_CHARS:
        raise RequestError(f"the tune to continue is {len(text)} characters long; the limit is {MAX_CONTINUE_CHARS}")
    if any(not (ch.isprintable() or ch in "\n\t") for ch in text):
        raise RequestError("the tune to continue contains control characters; send plain ABC text")
    text = _unfold(text)
    try:  # the whitelist (bot/render/sanitize.py): the model, the store and the post never see the rest
        text = clean_abc(text).strip()
    except AbcFieldError as exc:
        raise RequestError(str(exc)) from None
    if not re.search(r"^K:", text, re.MULTILINE):
        raise RequestError("the tune to continue has no K: (key) line; ABC needs a header ending in K:")
    if text.endswith("|]"):  # a final bar line says "the end"; to go on, it becomes a plain one
        text = text[:-2].rstrip() + "|"
    return text


_MODE_WORD = r"(?:maj|min|m|ion|aeo|dor|mix|lyd|phr|loc)[a-z]*"
_ONE_LINE_KEY = re.compile(
    rf"(?:^|\s)K:\s*(?P<key>[A-Ga-g][#b]?(?:\s*{_MODE_WORD}\b)?|none|HP|Hp)(?=\s|$)", re.IGNORECASE
)


def _unfold(text: str) -> str:
    """ABC pasted on one line (a Discord text option drops the line breaks): `X:1 T:Kesh M:6/8 K:G GAG GAB|`
    -> its header fields back on lines of their own, then the bars. Other text is left as it is."""
    if re.search(r"^K:", text, re.MULTILINE):
        return text
    key = _ONE_LINE_KEY.search(text)
    if key is None or not re.match(r"\s*[A-Za-z]:", text):
        return text
    fields = [f.strip() for f in re.split(r"\s+(?=[A-Za-z]:)", text[: key.start()].strip()) if f.strip()]
    if not all(re.match(r"[A-Za-z]:", f) for f in fields):
        return text
    return "\n".join([*fields, f"K:{key['key'].strip()}", text[key.end() :].strip()])


def _form(value: object, style: str) -> str:
    from model.abc.form import FormError, check_form

    if STYLES[style].model != "abc":
        raise RequestError(f"style '{style}' has no form option; forms (AABB, ABAC ...) are for the fiddle styles")
    try:
        return check_form(str(value))
    except FormError as exc:
        raise RequestError(str(exc)) from None


@functools.lru_cache(maxsize=128)
def honoured_lengths(style: str, form: str | None = None) -> tuple[int, ...]:
    """The lengths (bars as played) a new tune of this style (and form) is composed at exactly, within LENGTH.
    Asked of the ABC model's form planner itself (model/abc/form.py, make_plan): a length it would change is
    not in the list. The note model composes any length."""
    if STYLES[style].model != "abc":
        return tuple(range(LENGTH[0], LENGTH[1] + 1))
    import numpy as np

    from model.abc.form import make_plan

    rhythm = STYLES[style].rhythm
    return tuple(
        n for n in range(LENGTH[0], LENGTH[1] + 1) if make_plan(rhythm, form, n, np.random.default_rng(0)).played == n
    )


def length_choices() -> list[tuple[int, str]]:
    """(length, label) for a menu of lengths (Discord's choices): the lengths every ABC style honours with its
    usual form, and those only some styles do, saying which ("8 bars: waltz, chorale")."""
    styles = list(STYLES)
    common = sorted({n for name in styles if STYLES[name].model == "abc" for n in honoured_lengths(name)})
    out = []
    for n in common:
        fits = [name for name in styles if n in honoured_lengths(name)]
        out.append((n, f"{n} bars" if len(fits) == len(styles) else f"{n} bars: {', '.join(fits)} only"))
    return out[:25]


def _fit_length(length: int, style: str, form: str | None) -> tuple[int, str | None]:
    """The length itself when the style (and form) honours it, else the nearest one that does and what to say."""
    allowed = honoured_lengths(style, form)
    if length in allowed:
        return length, None
    nearest = min(allowed, key=lambda n: (abs(n - length), -n))  # a tie: the longer
    which = f"{style} in form {form}" if form else style
    return nearest, (
        f"A {which} is composed at {_or_list([str(n) for n in allowed])} bars (as played, repeats included), "
        f"so this one has {nearest} bars instead of {length}."
    )


@dataclass(frozen=True)
class ComposeOptions:
    """What someone asked for with /compose or the text form, as given (unchecked; None: not given). The
    server's defaults fill in what they left out (TuneService.admit), then `request` checks the whole."""

    given: tuple[tuple[str, object], ...] = ()

    @classmethod
    def of(cls, options: dict) -> ComposeOptions:
        return cls(tuple((k, v) for k, v in options.items() if v is not None))

    def request(self, defaults: dict | None = None) -> ComposeRequest:
        """The validated request: these options over `defaults` (e.g. a server's default style)."""
        given = dict(self.given)
        fill = {k: v for k, v in (defaults or {}).items() if v is not None and k not in given}
        return from_options(**fill, **given)


def from_options(**options) -> ComposeRequest:
    """A validated ComposeRequest from typed options (names may be aliases; None means "not given")."""
    values: dict[str, object] = {}
    for raw_name, value in options.items():
        name = ALIASES.get(str(raw_name).lower().strip())
        if name is None:
            raise RequestError(
                f"option '{_clip(raw_name)}' is not known; use {', '.join(f for f in FIELDS if f != 'continue_abc')}"
            )
        if name in values:
            raise RequestError(f"option '{name}' is given twice")
        if value is not None:
            values[name] = value

    style = parse_style(values.get("style", DEFAULT_STYLE))
    out: dict[str, object] = {"style": style}
    out["length"] = _number("length", values.get("length", DEFAULT_LENGTH), int, *LENGTH)
    if "key" in values:
        try:
            out["key"] = parse_key(str(values["key"])).name
        except ValueError as exc:
            raise RequestError(str(exc)) from None
        modes = MODEL_MODES[STYLES[style].model]
        if out["key"][-3:] not in modes:
            examples = {"maj": "D", "min": "Em", "dor": "Ador", "mix": "Gmix"}
            raise RequestError(
                f"key '{_clip(values['key'])}': {style} tunes can be in "
                f"{_or_list([MODE_NAMES[m] for m in modes])} keys; "
                f"try e.g. {', '.join(examples[m] for m in modes)}"
            )
    if "tempo" in values:
        out["tempo"] = _number("tempo", values["tempo"], int, *TEMPO)
    if "temperature" in values:
        out["temperature"] = float(_number("temperature", values["temperature"], float, *TEMPERATURE))
    if "seed" in values:
        out["seed"] = _number("seed", values["seed"], int, *SEED)
    if "instrument" in values:
        try:
            out["instrument"] = resolve_instrument(str(values["instrument"]))
        except ValueError:
            raise RequestError(
                f"instrument '{_clip(values['instrument'])}' is not known; try {', '.join(INSTRUMENTS)}"
            ) from None
    if "meter" in values:
        out["meter"] = _meter(values["meter"], style)
    if "accompaniment" in values:
        out["accompaniment"] = _bool("accompaniment", values["accompaniment"])
    if "form" in values:
        out["form"] = _form(values["form"], style)
    if "continue_abc" in values:
        if STYLES[style].model != "abc":
            raise RequestError(f"style '{style}' cannot continue an ABC tune; pick one of the fiddle styles")
        out["continue_abc"] = _continue_abc(values["continue_abc"])
    else:  # a new tune: a length its form cannot have becomes the nearest one it can (a continuation: any)
        out["length"], out["note"] = _fit_length(out["length"], style, out.get("form"))
    return ComposeRequest(**out)


_OPTION_RE = re.compile(r"([A-Za-z_]+)\s*[:=]\s*")
_COMMAND_WORDS = ("compose", "/compose", "!compose")


def parse_text(text: str) -> ComposeRequest:
    """Parse the chat/CLI text form: `compose style:jig length:64 key:G tempo:110`."""
    return text_options(text).request()


def text_options(text: str) -> ComposeOptions:
    """The options the text form names (unchecked values; ComposeOptions.request checks them).

    The leading word `compose` is optional; values may contain spaces (`style:slip jig`);
    a bare style name or number before the first option means style / length (`compose reel 48`).
    """
    if not isinstance(text, str):
        raise RequestError("the request must be text like: compose style:jig length:32")
    if len(text) > MAX_TEXT_CHARS:
        raise RequestError(f"the request is {len(text)} characters long; the limit is {MAX_TEXT_CHARS}")
    body = text.strip()
    first = body.split(None, 1)
    if first and first[0].lower() in _COMMAND_WORDS:
        body = first[1] if len(first) > 1 else ""

    matches = list(_OPTION_RE.finditer(body))
    head = body[: matches[0].start()] if matches else body
    options: dict[str, str] = {}
    for word in head.split():
        if word.isdecimal() and word.isascii() and "length" not in options:
            options["length"] = word
        elif "style" not in options:
            options["style"] = word
        else:  # a second bare word: maybe a two-word style ("slip jig")
            options["style"] += " " + word
    for i, match in enumerate(matches):
        end = matches[i + 1].start() if i + 1 < len(matches) else len(body)
        name = match.group(1).lower()
        value = body[match.end() : end].strip()
        canonical = ALIASES.get(name)
        if canonical is None or canonical == "continue_abc":
            raise RequestError(
                f"option '{_clip(name)}' is not known; use style, length, key, tempo, temperature, "
                f"seed, instrument, meter, accompaniment, form"
            )
        if canonical in options:
            raise RequestError(f"option '{canonical}' is given twice")
        if not value:
            raise RequestError(f"option '{canonical}' has no value; write it like {canonical}:VALUE")
        options[canonical] = value
    return ComposeOptions.of(options)


def describe(request: ComposeRequest) -> str:
    """The request in the text form (round-trips through parse_text for everything but continue_abc)."""
    parts = [f"style:{request.style}", f"length:{request.length}"]
    for name in ("key", "tempo", "temperature", "seed", "instrument", "meter", "form"):
        value = getattr(request, name)
        if value is not None and not (name == "temperature" and value == 0.9):
            parts.append(f"{name}:{value}")
    if not request.accompaniment:
        parts.append("accompaniment:no")
    return "compose " + " ".join(parts)


def guess_style_from_abc(text: str) -> str:
    """The style whose meter matches the tune's M: line (jig for 6/8, reel for 4/4 ...)."""
    meter = read_header(_unfold(text)).meter
    for style in STYLES.values():
        if style.model == "abc" and style.meter == meter:
            return style.name
    return "reel"


@dataclass(frozen=True)
class RerenderRequest:
    """Render a stored tune again (the `/tune id:` re-post): submit it to the JobQueue like a
    ComposeRequest; the job's tune_id is this tune's and no new tune is stored."""

    tune_id: str
    text: str
    text_format: str  # "abc" | "musicxml"
    request: ComposeRequest
    seed: int | None = None  # the stored tune's, shown again on the re-post
    model_version: str = ""

    @classmethod
    def from_tune(cls, tune) -> RerenderRequest:
        """From a bot.store.Tune row."""
        return cls(tune.id, tune.text, tune.text_format, from_options(**tune.request), tune.seed, tune.model_version)

    def to_dict(self) -> dict:
        return {"rerender": self.tune_id, **self.request.to_dict()}
