"""Section roles of structured texts and questions about how a study was done."""

from __future__ import annotations

import pytest

from mscqa.answer.roles import asks_method, section_role


@pytest.mark.parametrize(
    ("heading", "role"),
    [
        ("BACKGROUND", "background"),
        ("OBJECTIVES", "background"),
        ("Summary of background data", "background"),
        ("PATIENTS AND METHODS", "methods"),
        ("Design, setting, and participants", "methods"),
        ("MAIN OUTCOME MEASURES", "methods"),
        ("RESULTS", "results"),
        ("Principal findings", "results"),
        ("METHODS AND RESULTS", "results"),  # a section that reports results
        ("Conclusions", "conclusions"),
        # topic headings: no role, so a text that is no report of a study is unchanged
        ("Adipose mesenchymal stem cells (AD-MSCs)", None),
        ("Results of the Japanese trials", None),
        ("Methods of isolating bone marrow mesenchymal stem cells from donors", None),
        ("", None),
        (None, None),
    ],
)
def test_section_role(heading: str | None, role: str | None) -> None:
    assert section_role(heading) == role


@pytest.mark.parametrize(
    ("question", "method"),
    [
        ("How was leg perfusion monitored during prolonged pelvic surgery?", True),
        ("Which hearing tests were done in the third trimester?", True),
        ("What did the patients receive for spinal anaesthesia?", True),
        ("What geographic units did the Scottish study of area deprivation use?", True),
        ("Which scale did they apply to score pain?", True),
        ("What did the trial find in patients who did not use statins?", False),
        ("Which variable differed between the two groups?", False),
        ("Did Hill-Sachs depth correlate with glenoid bone loss?", False),
        ("Were carotid operations done more often where more people die of stroke?", False),
        ("How was survival affected by the delay of surgery?", False),
        ("Which questionnaire score improved after CPAP?", False),
    ],
)
def test_asks_method(question: str, method: bool) -> None:
    assert asks_method(question) is method
