"""Rendering: ABC -> MIDI (abc2midi), MIDI -> audio -> MP3 (FluidSynth), sheet music (verovio in a child process)."""
