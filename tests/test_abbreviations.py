"""Schwartz–Hearst abbreviation mining on small texts."""

from __future__ import annotations

import pytest

from mscqa.ingest.abbreviations import Abbreviation, best_long_form, mine


@pytest.mark.parametrize(
    ("text", "short", "long"),
    [
        (
            "Patients with graft-versus-host disease (GVHD) were treated.",
            "GVHD",
            "graft-versus-host disease",
        ),
        (
            "Bone marrow mesenchymal stem cells (BM-MSCs) are rare.",
            "BM-MSCs",
            "Bone marrow mesenchymal stem cells",
        ),
        (
            "The U.S. Food and Drug Administration (FDA) approved it.",
            "FDA",
            "Food and Drug Administration",
        ),
        ("levels of tumor necrosis factor-α (TNF-α) fell", "TNF-α", "tumor necrosis factor-α"),
        ("a visual analog scale (VAS) score", "VAS", "visual analog scale"),
        (
            "carotid intima-media thickness (cIMT) was measured",
            "cIMT",
            "carotid intima-media thickness",
        ),
    ],
)
def test_long_form_before_its_short_form(text: str, short: str, long: str) -> None:
    assert mine(text) == [Abbreviation(short, long)]


def test_the_long_form_is_cut_to_the_word_the_first_letter_starts() -> None:
    assert best_long_form("MSC", "derived from mesenchymal stem cells") == "mesenchymal stem cells"
    assert mine("These are cells from pure mesenchymal stem cells (MSCs).") == [
        Abbreviation("MSCs", "mesenchymal stem cells")
    ]


@pytest.mark.parametrize(
    "text",
    [
        "the Intelligent Enterprise Management Institute (SMART) reported",  # no R before A
        "Graft versus Host disease (GVDH) is serious.",  # a misspelt short form
        "most phase one (safety) studies",  # not an abbreviation: no capital or digit
        "diseases (such as osteoarthritis, rheumatoid arthritis)",
        "cells that did not undergo PCD (NPCD) died",  # 'undergo' gives NPCD nothing
        "a sample (n = 23) was drawn",
        "",
    ],
)
def test_what_is_not_a_definition(text: str) -> None:
    assert mine(text) == []


def test_a_long_form_does_not_reach_back_past_the_sentence() -> None:
    text = "Results were good. Magnetic resonance imaging (MRI) helped."
    assert mine(text) == [Abbreviation("MRI", "Magnetic resonance imaging")]
    assert mine("The heart. Rate (HR) rose.") == []


def test_each_pair_once_in_order_of_first_definition() -> None:
    text = "interleukin-1 (IL-1) and tumor necrosis factor (TNF); again interleukin-1 (IL-1)."
    assert mine(text) == [
        Abbreviation("IL-1", "interleukin-1"),
        Abbreviation("TNF", "tumor necrosis factor"),
    ]


def test_the_reverse_pattern_short_form_then_long_form() -> None:
    assert mine("We measured the BMI (body mass index of each adult) daily.") == []
    assert mine("Treated with CsA (cyclosporine A given daily).") == []
    assert mine("cases of HD (Hirschsprung disease) were") == [
        Abbreviation("HD", "Hirschsprung disease")
    ]
