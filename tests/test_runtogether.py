"""Two words typed as one, split against the corpus vocabulary."""

from __future__ import annotations

from mscqa.retrieval.runtogether import split_run_together

VOCABULARY = {"bone", "marrow", "stem", "cells", "cell", "umbilical", "cord", "often"}


def test_splits_into_two_corpus_words() -> None:
    assert split_run_together("bonemarrow", VOCABULARY) == "bone marrow"
    assert split_run_together("StemCells", VOCABULARY) == "stem cells"


def test_a_half_the_corpus_lacks_keeps_the_word() -> None:
    assert split_run_together("bonemarow", VOCABULARY) is None
    assert split_run_together("stemcellz", VOCABULARY) is None


def test_short_halves_do_not_count() -> None:
    # "of" + "ten", "cell" + "s": halves under four letters are no words to split into
    assert split_run_together("often", VOCABULARY | {"of", "ten"}) is None
    assert split_run_together("cells", VOCABULARY | {"s"}) is None


def test_the_most_even_split_wins() -> None:
    # "marrowc" + "ells" are words of this corpus too, but "marrow" + "cells" is more even
    vocabulary = {"marrowc", "ells", "marrow", "cells"}
    assert split_run_together("marrowcells", vocabulary) == "marrow cells"
