"""The bar-line half of the BarTracker (model/abc/tracker.py): closing a bar, which bar lines may come
next (parts, repeats, endings, the last bar), and the end of the tune."""

from __future__ import annotations

from model.abc.notation import BAR_TOKENS, FINAL_BARS, SECTION_BARS

MIN_PART_BARS = 4  # when composing, :| :: || only after a part of at least this many bars
_BAR_PREFIXES = {t[:k] for t in BAR_TOKENS for k in range(1, len(t) + 1)}


class TrackerError(ValueError):
    """A character the tracker refuses; the message says why."""


class BarLines:
    """Mixed into BarTracker, whose slots these methods use."""

    __slots__ = ()

    def _close_bar(self, ch: str) -> None:
        if self.tuplet_left or self.fixed is not None:
            raise TrackerError("a bar line inside an unfinished triplet or broken pair")
        e, full = self.elapsed, self.full
        self.need_section = False
        self.counting = True
        if e == 0:
            at_start = self.bars == 0 and not self.pickup
            if self.notes_in_bar == 0 and ch == "|" and self.last_token != "|:" and (self.target is None or at_start):
                self.counting = None  # an empty bar before |: (start of tune or, in the corpus, of a part)
            else:
                raise TrackerError("an empty bar")
        elif self.pending_pickup:
            if e != self.pending_pickup:
                raise TrackerError("this part's pickup does not complete the short bar before it")
            self.counting = False
        elif e == full:
            pass
        elif e == self.may_pickup:
            self.counting = False
        elif self.bars == 0 and not self.pickup and self.counting is not None and not self._had_bar():
            self.counting = False  # the opening pickup
            if self.target is not None and 2 * e > full:
                raise TrackerError("a pickup may be at most half a bar")
        elif e < full:
            self.need_section = True  # a short bar: must end a part
            if self.target is not None and e + self.pickup != full:
                # when composing, a short bar may only complete the opening pickup
                raise TrackerError("a short bar must complete the opening pickup")
        else:
            raise TrackerError("the bar is overfull")
        if self.counting and self.target is not None and self.bars + 1 > self.target:
            raise TrackerError("the tune already has its bars")
        if self.need_section and self.target is not None and self.bars + 1 == self.target and e + self.pickup != full:
            raise TrackerError("the last bar is short")
        self.bar_str = ch
        self._check_bar_prefix()
        self.mode = "bar"

    def _limit(self) -> int:
        """The most the current bar may hold: a part's pickup, or a full bar."""
        return self.pending_pickup or self.full

    def _had_bar(self) -> bool:
        return self.bars > 0 or self.pickup > 0

    def _allowed_bars(self) -> tuple[set[str], str]:
        """The bar lines that may close the current bar, and why others may not."""
        if self.counting is None:
            return {"|:"}, "an empty bar"
        allowed, why = set(BAR_TOKENS), "bad bar line"
        if self.need_section:
            allowed &= set(SECTION_BARS)
            why = "a short bar must end a part (|| :| :: |])"
        allowed -= {"|1"} if self.ending else {"|2", ":|2"} if self.ending != 1 else set()
        if self.target is None:
            return allowed, why
        # when composing, repeats and endings must be ones abc2midi reads without complaint
        closing_ok = self.repeat_open or not self.repeats_closed  # may :| :: :|2 close a repeat here?
        nb = self.bars + (1 if self.counting else 0)  # bars written once this one is closed
        if nb == self.target:
            final = {":|"} if self.repeat_open else set(FINAL_BARS) if closing_ok else {"|]"}
            return allowed & final, "the last bar must end with |] or :| (closing any open repeat)"
        allowed.discard("|]")
        if self.target - nb < MIN_PART_BARS:  # a part starting here would end the tune too short
            allowed -= {":|", "::", "||", "|:", ":|2"} if self.need_section else {":|", "::", "||", "|:"}
            why = f"the last part has at least {MIN_PART_BARS} bars"
        if self.part_bars + (1 if self.counting else 0) < MIN_PART_BARS:
            allowed -= {":|", "::", "||", "|:", ":|2"} if self.need_section else {":|", "::", "||"}
            why = f"a part has at least {MIN_PART_BARS} bars"
        if self.repeat_open:
            allowed -= {"|:", "||"}
        if not closing_ok:
            allowed -= {":|", "::", ":|2", "|1"}
        if nb + 2 > self.target:
            allowed.discard("|1")  # no room left for the second ending
        if self.ending == 1:  # a first ending closes only with :|2
            allowed &= {":|2"} if nb >= self.target - 1 else {"|", ":|2"}
        return allowed, why

    def _check_bar_prefix(self) -> None:
        s = self.bar_str
        allowed, why = self._allowed_bars()
        if not any(t.startswith(s) for t in allowed):
            raise TrackerError(why)

    def _bar(self, ch: str) -> None:
        if ch in "|:]12":
            s = self.bar_str + ch
            if s in _BAR_PREFIXES:
                self.bar_str = s
                self._check_bar_prefix()
                return
        self._finish_bar()
        if self.mode == "after_end_bar":
            self.feed(ch)
            return
        self._free(ch)

    def _finish_bar(self) -> None:
        s = self.bar_str
        if s not in BAR_TOKENS:
            raise TrackerError(f"unfinished bar line {s!r}")
        allowed, why = self._allowed_bars()
        if s not in allowed:
            raise TrackerError(why)
        self.last_token = s
        if s in (":|", "::", ":|2"):
            self.repeats_closed = True
        if s in ("|:", "::"):
            self.repeat_open = True
        elif s in (":|", ":|2", "|]", "||"):
            self.repeat_open = False
        if s in (":|", "::", "||", "|]"):
            self.part_bars = -1 if self.counting else 0  # (this bar is counted below)
        if s == "|1":
            if self.ending:
                raise TrackerError("a first ending inside an ending")
            self.ending = 1
        elif s in ("|2", ":|2"):
            if self.ending != 1:
                raise TrackerError("a second ending without a first")
            self.ending = 2
        elif s != "|" and self.ending == 2:
            self.ending = 0
        if self.counting is None:
            if s != "|:":
                raise TrackerError("an empty bar")
        else:
            if self.need_section and s not in SECTION_BARS:
                raise TrackerError("a short bar must end a part")
            if self.counting is False:
                if self.pending_pickup or self.may_pickup:
                    self.pending_pickup = 0
                else:
                    self.pickup = self.elapsed
            else:
                self.bars += 1
                self.part_bars += 1
                if self.need_section:
                    short = self.elapsed
                    if short + self.pickup != self.full or (
                        self.target is not None and s != ":|2" and self.bars < self.target
                    ):
                        self.pending_pickup = self.full - short  # the next part starts with it
                    else:
                        self.may_pickup = self.full - short
                if self.target is not None and self.bars == self.target:
                    if s not in FINAL_BARS:
                        raise TrackerError("the last bar must end with |] or :|")
                    if self.pending_pickup:
                        raise TrackerError("the last bar is short")
                    self.mode = "after_end_bar"
                    self.elapsed, self.notes_in_bar = 0, 0
                    return
        if self.counting is not None and not (self.counting and self.need_section):
            self.may_pickup = 0
        self.elapsed, self.notes_in_bar = 0, 0
        self.mode = "free"
        self.last_free = None

    def _end(self) -> None:
        if self.target is not None:
            raise TrackerError(f"the tune needs {self.target} bars, it has {self.bars}")
        if self.last not in ("\n",) and self.mode != "after_end_bar":
            raise TrackerError("the tune must end with a bar line and a newline")
        if self.elapsed or self.pending_pickup or not self.started:
            raise TrackerError("the tune ends inside a bar")
        self.ended = True
