"""model/abc/data.py: the held-out split keeps near-duplicate transcriptions of a tune on one side."""

from collections import Counter

from model.abc.data import EXCLUDED, group_tunes, incipit_keys, load_corpus, split_groups, title_key

HEAD = "R:reel\nM:4/4\nL:1/8\nK:Cmaj\n"


def test_title_key_matches_variants_and_drops_generic_titles():
    assert title_key("THE BOYNE HUNT -- REEL.") == title_key("Boyne Hunt, The") == "boyne hunt"
    assert title_key("Fisher's Hornpipe (2nd Setting)") == title_key("FISHER'S -- HORNPIPE") == "fishers"
    assert title_key("Lord Gordon's 25th Regt.") != title_key("Lord Gordon's 40th. Regt.")
    assert (
        title_key("Quick Step 25th Regt.") is None
        and title_key("Irish Air.") is None
        and title_key("Reel") is None
        and title_key("") is None
    )


def test_incipit_ignores_rhythm_octave_ornaments_and_a_pickup():
    a = HEAD + "GA|{g}c2 ec GcEG|~c>e gc' dBGB|cBAG FEDC|]\n"
    b = HEAD + "c'e'c' gc'eg | cegc dB,G,B, | cBAG F2 ED/C/|]\n"  # no pickup, other rhythm and octaves
    assert set(incipit_keys(a)) & set(incipit_keys(b))
    assert not set(incipit_keys(a)) & set(incipit_keys(HEAD + "cdef gfed|cdef gfed|cdef gfed|]\n"))
    assert incipit_keys(HEAD + "c4 e4|g8|]\n") == []  # too few notes to mean anything


def test_groups_join_by_title_or_incipit_and_split_whole():
    tunes = [
        HEAD + "GA|c2ec GcEG|cegc dBGB|cBAG FEDC|]\n",
        HEAD + "cdef gfed|cdef gfed|cdef gfed|]\n",
        HEAD + "c>ec GcEG|cegc dBGB|cBAG FEDC|]\n",  # tune 0 without its pickup
        HEAD + "egfe dcBA|egfe dcBA|egfe dcBA|]\n",
    ]
    groups = group_tunes(tunes, ["Jenny's Reel", "The Jenny's -- Reel", "Other", "Jenny's, The"])
    assert len(set(groups)) == 1  # 0-2 by incipit, 0-1 and 1-3 by title
    assert len(set(group_tunes(tunes, ["A one", "A two", "A three", "A four"]))) == 3
    for percent in (10, 50, 90):
        held = split_groups(tunes, groups, percent)
        assert len(set(held)) == 1


def test_no_group_straddles_the_split():
    corpus = load_corpus()
    train_keys = set()
    for t in corpus.train:
        train_keys.update(incipit_keys(t))
        train_keys.add(title_key(corpus.titles[t]))
    train_keys.discard(None)
    for t in corpus.valid:
        assert not train_keys & ({title_key(corpus.titles[t])} | set(incipit_keys(t))), t
    s = corpus.stats
    assert s["split"]["valid_groups"] + s["split"]["train_groups"] == s["split"]["groups"]
    assert 0.08 < len(corpus.valid) / len(corpus.tunes) < 0.12
    assert not set(corpus.train) & set(corpus.valid)
    held = Counter(corpus.stats["split"]["valid_rhythms"])
    assert held["jig"] >= 60 and held["reel"] >= 60 and held["hornpipe"] >= 15


def test_sources_are_every_allowed_folk_collection():
    s = load_corpus().stats
    assert set(s["sources"]) == {"ryansMammoth", "oneills1850", "airdsAirs", "miscFolk", "nottingham-dataset"}
    assert "essenFolksong" in EXCLUDED and "essenFolksong" not in s["sources"]
