"""Expected answer types: cost, time, count, quantity, place, person, name."""

from __future__ import annotations

import pytest

from mscqa.answer.expected import (
    country_code,
    expected_type,
    named_countries,
    places,
    satisfies,
)


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("How much does the treatment cost?", "money"),
        ("What is the price of MSC therapy in Korea?", "money"),
        ("And what about their price?", "money"),
        ("What's the average cost of one treatment?", "money"),
        ("What is the typical price in Japan?", "money"),
        ("When was Prochymal approved?", "year"),
        ("In which year did the FDA approve it?", "date"),
        ("How many eligible cases were analysed?", "count"),
        ("What share of radiographs did the model get right?", "percent"),
        ("What percentage of children were missing from the register?", "percent"),
        ("By what percentage did blood loss rise?", "percent"),
        ("What was the mean age of the patients?", "measure"),
        ("What mean score did the patients reach?", "quantity"),
        ("What was the sample size of the study?", "count"),
        ("How long does processing take?", "duration"),
        ("Who makes Prochymal?", "maker"),
        ("Which company manufactures the product?", "maker"),
        ("Who is the manufacturer of Prochymal?", "maker"),
        ("What is the total processing time with the new technique?", "duration"),
        ("Which country uses more cord MSCs?", "place"),
        ("Who developed the technique?", "person"),
        ("Which journal reported the study?", "person"),
        ("What dose of Prochymal is given?", "dose"),
        ("What is the product called?", "name"),
    ],
)
def test_typed_questions(question: str, kind: str) -> None:
    found = expected_type(question)
    assert found is not None and found[0] == kind


@pytest.mark.parametrize(
    "question",
    [
        "Why is it so expensive?",
        "Where are MSCs found?",
        "When does GVHD happen?",
        "What are the advantages of fat MSCs?",
        "Is it painful?",
        "What is the cost-effective option?",
        "Name the tissues that harbour mesenchymal stem cells.",
        "List the diseases treated, by name.",
    ],
)
def test_untyped_questions(question: str) -> None:
    assert expected_type(question) is None


@pytest.mark.parametrize(
    ("question", "met", "unmet"),
    [
        (
            "How much does it cost?",
            ["It costs $3,000 per dose."],
            ["The high price limits its use."],
        ),
        (
            "When was it approved?",
            ["It was approved in 2012.", "Follow-up lasted 36 months."],
            ["The FDA has approved it."],
        ),
        (
            "How many patients were treated?",
            [
                "30 patients were treated.",
                "Twelve patients (ten males) started CPAP.",
                "We enrolled patients (n = 23).",
            ],
            ["Patients improved."],
        ),
        (
            "Which country has approved it?",
            ["At present, Japan has approved it.", "Japan has approved it."],
            ["It has been approved for use."],
        ),
        (
            "Who developed the technique?",
            ["It was pioneered by the Enterprise Institute (SMART)."],
            ["It was developed recently."],
        ),
        (
            "What percentage improved?",
            ["Pain fell in 61 patients (9%)."],
            ["Pain fell in most patients."],
        ),
    ],
)
def test_each_type_needs_its_figure_or_name(
    question: str, met: list[str], unmet: list[str]
) -> None:
    wanted = expected_type(question)
    assert wanted is not None
    assert [s for s in met if not satisfies(wanted, s)] == []
    assert [s for s in unmet if satisfies(wanted, s)] == []


@pytest.mark.parametrize(
    "hostile",
    [",".join(str(i % 10) for i in range(5000)), "1." * 5000, "A." * 5000, "A-" * 5000],
)
def test_a_hostile_run_of_digits_or_capitals_is_read_once(hostile: str) -> None:
    # each figure pattern starts only where a run of digits (or a name) starts: a 10k
    # character "1,2,3,..." made every pattern quadratic (seconds a sentence); now linear, and
    # the answers are those of the structured figure "1,234.5"
    for question in ("How much does it cost?", "Who makes it?", "What dose was given?"):
        wanted = expected_type(question)
        assert wanted is not None
        satisfies(wanted, hostile)
    assert satisfies(expected_type("How much does it cost?"), "It costs 1,250.50 dollars.")


def test_a_count_is_of_the_counted_noun_phrase() -> None:
    cases = expected_type("How many eligible cases were analysed?")
    assert cases and cases[0] == "count" and (cases[1] or "").startswith("cases patients ")
    assert satisfies(cases, "In all, 1,204 cases were analysed.")
    assert satisfies(cases, "We found 212 eligible patients.")
    assert not satisfies(cases, "Eligible cases were analysed.")
    # the phrase runs to its head noun, however many words come before it
    rectal = expected_type("In how many primary rectal cancer cases was surgery cancelled?")
    assert rectal and (rectal[1] or "").startswith("cases ")  # cases: a study's people
    assert satisfies(rectal, "In 8 of 46 cases (17 percent), surgery was cancelled.")
    assert expected_type("How many cells can you get?") == ("count", "cells")
    # a year of a period and a share count nothing
    patients = expected_type("How many patients were included?")
    assert not satisfies(patients, "A study was done between 2000 and 2011 including patients.")
    assert not satisfies(patients, "It varies between 79 and 84 % in case of instability.")
    assert satisfies(patients, "Thirty patients were included, 25 men/5 women.")
    assert satisfies(patients, "We saw 2011 patients.")
    # a sample's size as studies write it counts people, not things
    assert satisfies(patients, "Groups were similar for GM (n = 45) or SM (n = 66).")
    things = expected_type("How many platelet concentrates were given?")
    assert not satisfies(things, "Groups were similar for GM (n = 45).")

    # the counted noun is the phrase's head: a number before a modifier counts something else
    rectal = expected_type("In how many primary rectal cancer cases was surgery cancelled?")
    assert rectal and satisfies(rectal, "Surgery was cancelled in 6 cases (13 percent).")
    trials = expected_type("How many phase III clinical trials were registered?")
    assert trials == ("count", "trials")
    assert not satisfies(trials, "Of 12 centres, several ran phase III clinical studies.")
    children = expected_type("How many of the children improved?")
    assert children and (children[1] or "").startswith("children patients ")
    # a year dates a study and counts nothing; a sample size may be written "(n = 45)"
    included = expected_type("How many patients were included?")
    assert included and not satisfies(included, "A study between 2000 and 2011 including patients")
    assert satisfies(included, "The GM (n = 45) or SM (n = 66) groups were similar.")
    assert not satisfies(trials, "The GM (n = 45) or SM (n = 66) groups were similar.")
    asthma = expected_type("How many patients with asthma were treated?")
    assert asthma and asthma[0] == "count" and (asthma[1] or "").startswith("patients ")


def test_a_count_of_women_or_newborns_is_answered_by_a_count_of_patients() -> None:
    # "how many women ...?" over a study that counts its women as patients
    women = expected_type("How many women with endometriomas had CA125 measured?")
    assert women and satisfies(women, "CA125 was measured in 72 patients with endometriomas.")
    assert not satisfies(women, "CA125 was measured in patients with endometriomas.")
    # its own words still count: "term newborns" by "50 term newborns"
    newborns = expected_type("How many term newborns were genotyped?")
    assert newborns and satisfies(newborns, "We genotyped 50 term newborns.")
    # a count of things is of those things; the figure may follow a colon
    platelets = expected_type("On average how many platelet concentrates did patients receive?")
    assert platelets == ("count", "concentrates")
    assert satisfies(platelets, "(mean number of platelet concentrates: 2.3 versus 0.7)")
    assert not satisfies(platelets, "Patients received 2.3 more days of care.")


def test_places_come_from_the_country_gazetteer_not_the_documents() -> None:
    # any country counts, not only those of the article: a sentence that opens with one
    # answers "which country", and a country is not the name a naming question wants
    text = "Germany, South Korea, Korea, the United States, the U.S., USA and New Prochymal"
    assert places(text) == ["Germany", "South Korea", "Korea", "United States", "U.S.", "USA"]
    assert places("See the New Man of The FDA.") == []
    place = expected_type("In which country was it approved first?")
    assert place and satisfies(place, "Germany approved it first.")
    assert satisfies(place, "U.S. regulators approved it first.")
    assert not satisfies(place, "Regulators approved it first.")
    assert not satisfies(place, "New regulators approved it first.")
    name = expected_type("What is the product called?")
    assert name and not satisfies(name, "The product is sold in Germany and Brazil.")
    assert satisfies(name, "The product is sold in Germany as Temcell.")


def test_a_country_is_one_code_in_any_of_its_forms() -> None:
    # a question's "US" is the passages' "U.S." and "United States"; "UK" is Great Britain's
    assert {country_code(n) for n in ("US", "U.S.", "USA", "United States")} == {"US"}
    assert country_code("UK") == country_code("United Kingdom") == "GB"
    assert country_code("South Korea") == "KR"
    assert country_code("Prochymal") is None
    texts = ["The U.S. Food and Drug Administration approved it.", "Japan has products."]
    assert named_countries(texts) == {"US", "JP"}
    assert named_countries(["No country here."]) == frozenset()


def test_a_share_of_a_whole_needs_a_share_not_any_number() -> None:
    percent = expected_type("What percentage of the children were missing?")
    assert percent == ("percent", None)
    assert satisfies(percent, "Of the 135 cases, 47 per cent were not found.")
    assert satisfies(percent, "Blood loss increased by 45%.")
    assert satisfies(percent, "Two thirds of the children were found.")
    assert satisfies(percent, "Of 135 children, 47 of 135 were missing.")
    # a number that is not a share: a survey "in one Health Board", a count of cases
    assert not satisfies(percent, "A survey was carried out in one Health Board.")
    assert not satisfies(percent, "The register holds 135 cases.")


def test_a_sample_size_is_a_count_of_people_not_any_figure() -> None:
    size = expected_type("What was the sample size of the Parkinson's study?")
    assert size is not None and size[0] == "count"
    assert satisfies(size, "30 patients who were treated improved.")
    assert satisfies(size, "The sample comprised 45 children aged 5-9 years.")
    # a duration is a figure, not the size of the sample
    assert not satisfies(size, "No side effects were seen after 36 months of follow-up.")


def test_how_much_of_a_noun_is_answered_by_an_amount_in_words() -> None:
    trauma = expected_type("How much trauma does collecting them cause?")
    assert trauma == ("quantity", "trauma")
    assert satisfies(trauma, "Derived from cord tissue, almost no trauma, and easy to expand.")
    assert satisfies(trauma, "The collection causes 2 days of soreness.")  # a figure still does
    assert not satisfies(trauma, "It is derived from cord tissue.")
    assert not satisfies(trauma, "Little is known about where it comes from.")  # not the noun
    assert expected_type("How much does it cost?") == ("money", None)
    assert expected_type("How much more painful is it?") == ("quantity", None)


def test_a_count_of_people_is_answered_by_any_word_for_people() -> None:
    people = expected_type("How many people were treated in the study?")
    assert people is not None and people[0] == "count"
    assert satisfies(people, "30 patients who were treated showed improvements.")
    assert satisfies(people, "Twelve volunteers took part.")
    assert not satisfies(people, "The study lasted 12 months.")
    # another counted noun keeps its own words
    assert expected_type("How many trials were registered?") == ("count", "trials")


def test_how_far_along_asks_for_progress_not_a_distance() -> None:
    assert expected_type("How far along are the studies?") is None
    assert expected_type("How far can the cells travel?") == ("quantity", None)
    # "how far have the trials got?" asks how far they have progressed, too
    assert expected_type("Which diseases, and how far have the trials got?") is None
    assert expected_type("How far has stem cell research progressed?") is None
    assert expected_type("How far did the patients walk?") == ("quantity", None)


def test_a_time_asked_for_needs_a_time() -> None:
    recovery = expected_type("What is the recovery time after liposuction?")
    assert recovery == ("duration", None)
    assert satisfies(recovery, "Most patients recover within two weeks.")
    assert not satisfies(recovery, "Fat is extracted through liposuction.")


def test_a_place_is_a_country_or_a_name_after_a_word_of_place() -> None:
    city = expected_type("Which city is the institute based in?")
    assert city == ("place", None)
    assert satisfies(city, "The institute, based in Boston, developed it.")
    assert satisfies(city, "It was first approved in South Korea.")
    # a name that is no place: an organisation
    assert not satisfies(city, "It was pioneered by the Enterprise Management Institute (SMART).")


def test_a_date_asked_for_needs_a_date_not_a_length_of_time() -> None:
    year = expected_type("In which year did the FDA approve Prochymal?")
    assert year == ("date", None)
    assert satisfies(year, "The FDA approved Prochymal in May 2012.")
    assert satisfies(year, "It was approved on 17/05/2012.")
    assert not satisfies(year, "No side effects were seen after 36 months of follow-up.")
    # "which day/month ...?" may ask for "postoperative day 3": no date is required
    assert expected_type("On which day after surgery did pain peak?") != ("date", None)
    assert expected_type("In which month of pregnancy is it given?") != ("date", None)
    # "when ...?" is answered by a time in any form, a follow-up's length too
    assert satisfies(expected_type("When were side effects checked?"), "after 36 months")


@pytest.mark.parametrize(
    "question",
    [
        "What does a course of Prochymal cost in the US?",
        "What do clinics charge for fat stem cell injections?",
        "What would a patient pay for Prochymal?",
        "How much is one treatment of Prochymal?",
        "How much would it set me back?",
        "What is the going rate for MSC therapy in Japan?",
        "Could you tell me the cost of umbilical cord MSC treatment?",
        "What is Prochymal priced at?",
        "What price does Prochymal sell for?",
        "What did the FDA-approved product cost per dose?",
    ],
)
def test_a_price_asked_in_other_words_is_money(question: str) -> None:
    assert expected_type(question) == ("money", None)


@pytest.mark.parametrize(
    "question",
    [
        "How much is the yield increased?",
        "How much is a single injection reduced?",
        "What did the trial pay attention to?",
        "Is cost a barrier?",
        "Do family physicians know the costs of medical care?",  # PubMedQA's: a yes/no
        "How much is a dose of MSCs?",
        "How much is a typical yield?",
        "What does the surface charge of MSCs indicate?",
        "How much is known about safety?",
    ],
)
def test_an_amount_or_a_word_of_paying_is_no_price(question: str) -> None:
    assert expected_type(question) != ("money", None)


def test_a_whole_duration_is_not_answered_by_a_time_saved() -> None:
    whole = expected_type("How long does the SMART processing take?")
    assert whole == ("duration", None)
    saved = "It reduces the processing time of stem cells by 20 minutes compared with others."
    assert not satisfies(whole, saved)
    assert not satisfies(whole, "The new method saves two hours.")
    assert not satisfies(whole, "Sorting is 3 days shorter than culture.")
    assert satisfies(whole, "Processing takes about 40 minutes.")
    assert satisfies(whole, "Patients were followed for 36 months.")
    assert satisfies(whole, "Drains were removed after 48 h.")
    assert satisfies(whole, "The mean follow-up was 5.2 yrs (range 2-9).")
    assert satisfies(whole, "Recovery takes a few weeks.")
    assert satisfies(whole, "Recovery takes a couple of weeks.")
    assert satisfies(whole, "MSCs have been studied for decades.")
    assert satisfies(whole, "MSCs have been studied since 1970.")
    assert not satisfies(whole, "Processing is fast and simple.")
    # asked as a difference, a difference answers it
    # the unit of time named, a misspelt "does" ("dose") asks for no dose
    assert expected_type("how much time dose the new methd save") == ("duration", "difference")
    assert expected_type("How many hours does sorting take?") == ("duration", None)
    assert expected_type("What dose of Prochymal is given?") == ("dose", None)
    gained = expected_type("How long does it take compared with the old method?")
    assert gained == ("duration", "difference")
    assert satisfies(gained, saved)


def test_a_maker_is_an_organisation_not_any_name() -> None:
    maker = expected_type("Which company makes Prochymal?")
    assert maker == ("maker", None)
    regulator = "The U.S. Food and Drug Administration (FDA) has approved Prochymal for GVHD."
    assert not satisfies(maker, regulator)
    assert satisfies(maker, "Prochymal is made by Osiris, a Maryland company.")
    assert satisfies(maker, "Osiris Therapeutics developed Prochymal.")
    assert satisfies(maker, "Prochymal was developed by Osiris.")
    # the organisation that did it, whatever kind it is ("which company pioneered ...?")
    pioneer = expected_type("Which company pioneered the technique?")
    assert pioneer == ("maker", None)
    assert satisfies(pioneer, "A technique pioneered by the Enterprise Institute (SMART).")
    # who developed or pioneered a technique is still a person or an institute
    developed = "Who developed the technique?"
    assert expected_type(developed) == ("person", developed)


def test_a_time_asked_with_when_may_be_relative_to_now() -> None:
    when = expected_type("When was the technique reported?")
    assert when == ("year", None)
    assert satisfies(when, "Biomedical technology recently reported on the technique.")
    assert satisfies(when, "At present, Japan has approved it.")
    assert not satisfies(when, "The FDA has approved Prochymal for GVHD.")


def test_a_funder_is_named_as_one() -> None:
    funder = expected_type("Who funded the SMART research?")
    assert funder == ("funder", None)
    assert satisfies(funder, "The study was funded by the National Research Foundation.")
    assert satisfies(funder, "It was supported in part by a grant from the NIH.")
    assert not satisfies(funder, "The technique was pioneered by the institute (SMART).")


def test_a_dose_is_any_dose_unit_not_any_number() -> None:
    dose = expected_type("What radiation dose was delivered?")
    assert dose == ("dose", None)
    assert satisfies(dose, "Patients received 50 Gy in 25 fractions.")
    assert satisfies(dose, "Infiltration with 0.5% bupivacaine was used.")
    assert not satisfies(dose, "Clearance of eczema was reported by 11% of patients.")
    assert satisfies(dose, "Two puffs of salbutamol were given.")
    assert satisfies(dose, "They took 500 \u03bcg daily.")
    assert not satisfies(dose, "Thirty patients were treated for 36 months.")


def test_a_price_is_a_currency_amount_in_any_of_its_forms() -> None:
    money = expected_type("How much does the treatment cost?")
    assert satisfies(money, "The mean cost was USD 1,250 per patient.")
    assert satisfies(money, "It costs 3.5 million euros a year.")
    assert satisfies(money, "Each course costs 12,000 rupees.")
    assert not satisfies(money, "The treatment is costly for 30 patients.")


def test_a_date_asked_for_by_name_needs_a_date() -> None:
    for question in (
        "What is the approval date of Prochymal?",
        "Approval date?",
        "What was the year of its approval?",
    ):
        asked = expected_type(question)
        assert asked == ("date", None), question
        assert satisfies(asked, "Canada approved Prochymal in May 2012.")
        assert not satisfies(asked, "Prochymal is approved for graft-versus-host disease.")
    # "to date", "out of date", "date back", a year as a variable ask for no date
    assert expected_type("Is year of surgery a predictor of outcome?") is None
    assert expected_type("Is the article up to date?") is None
    assert expected_type("Which trials have been published to date?") is None


def test_who_led_needs_a_person_not_an_organisation() -> None:
    led = expected_type("Who led the research team?")
    assert led == ("human", None)
    assert expected_type("Which scientist first described MSCs?") == ("human", None)
    institute = "A technique pioneered by the Intelligent Enterprise Management Institute (SMART)."
    assert not satisfies(led, institute)
    assert not satisfies(led, "It was approved by the U.S. Food and Drug Administration.")
    assert not satisfies(led, "The trial was led by Osiris Therapeutics.")
    assert satisfies(led, "The team was led by Dr. Chen of the institute.")
    assert satisfies(led, "Friedenstein et al. first described the cells.")
    assert satisfies(led, "A. J. Friedenstein first described the cells.")
    assert satisfies(led, "The study, led by Arnold Caplan, named them.")
    assert satisfies(led, "Arnold Caplan and colleagues named them.")
    # a plural profession may ask for a kind of people, not a name
    assert expected_type("Which doctors use them most?") is None
    # who developed a technique is still a person or an institute
    developed = "Who developed the technique?"
    assert expected_type(developed) == ("person", developed)


def test_how_much_more_needs_a_difference() -> None:
    for question in (
        "How many more patients improved with MSCs?",
        "How much bigger is the yield?",
        "How much quicker is preparing the cells with the new approach than the old way?",
        "How much longer does the old method take?",
    ):
        assert expected_type(question) == ("difference", None), question
    more = ("difference", None)
    assert satisfies(more, "It reduces the processing time by 20 minutes.")
    assert satisfies(more, "The new method doubles the yield.")
    assert satisfies(more, "Yield rose from 12 to 30 million cells.")
    assert satisfies(more, "A 3-fold increase in yield.")
    assert satisfies(more, "Twelve more patients improved.")
    assert not satisfies(more, "A total of 30 patients were treated.")
    assert not satisfies(more, "The new method is faster and cheaper.")
    # "how long ... compared with" stays a length of time, a difference answering it
    assert expected_type("How long does it take compared with the old method?") == (
        "duration",
        "difference",
    )


def test_a_question_about_harm_needs_a_statement_of_harm_or_safety() -> None:
    for question in (
        "Does Prochymal cause side effects?",
        "Is it dangerous?",
        "What are the risks of liposuction?",
        "Are there any risks?",
        "Were there complications?",
        "Is vaping less harmful than smoking?",
    ):
        assert expected_type(question) == ("harm", None), question
    harm = ("harm", None)
    assert satisfies(harm, "No significant side effects were observed after 36 months.")
    assert satisfies(harm, "The treatment was safe and well tolerated.")
    assert satisfies(harm, "Two patients had wound infections.")
    assert satisfies(harm, "Histology revealed aggravated findings of chronic radiodermatitis.")
    assert not satisfies(harm, "Prochymal is approved for graft-versus-host disease.")
    # a study of safety, the risk of an outcome (a rate answers it), a complication described
    for question in (
        "Have the early-stage safety and efficacy studies been finished?",
        "What is the risk of recurrence after surgery?",
        "Is obesity a risk factor for stroke?",
        "My doctor warned me about a complication where the donor's cells attack me; what is it?",
    ):
        assert expected_type(question) != ("harm", None), question


def test_a_named_quantity_is_given_in_its_own_unit_or_notation() -> None:
    volume = expected_type("What mean tidal volume did a two-handed squeeze deliver?")
    assert volume == ("measure", "volume")
    assert satisfies(volume, "The mean volumes were 592.84 ml (SD 117.39) and 644.24 ml.")
    # another figure is not a volume: a correlation, a count of hands
    assert not satisfies(volume, "Volume by two hands was greater than by one (r = 0.398).")
    odds = expected_type("What odds ratio for smoking did teens with no restriction have?")
    assert odds == ("measure", "odds")
    assert satisfies(odds, "Those with no restriction were more likely to smoke (OR = 3.3).")
    assert satisfies(odds, "The adjusted odds ratio was 2.1 (95% CI 1.5-2.8).")
    # "or" is no odds ratio, and odds ratios named without a figure give none
    assert not satisfies(odds, "Susceptible to or having tried smoking for 3 levels.")
    assert not satisfies(odds, "A regression yielded odds ratios (ORs) for three levels.")
    age = expected_type("What was the mean age of the patients?")
    assert age == ("measure", "age")
    assert satisfies(age, "Thirty patients were included, mean age 29.8 years.")
    assert not satisfies(age, "Thirty patients were included.")
    pressure = expected_type("How high was the systolic blood pressure?")
    assert pressure and satisfies(pressure, "It rose to 160 mmHg.")
    # a quantity that names no unit is still any figure
    assert expected_type("What is the survival rate after two years?") == ("quantity", None)


@pytest.mark.parametrize(
    "question",
    [
        "Which doctor treats GVHD?",
        "Which surgeon technique is better?",
        "What person-years were observed?",
    ],
)
def test_a_profession_asks_for_a_kind_of_people_not_a_name(question: str) -> None:
    assert expected_type(question) != ("human", None)


def test_a_date_in_a_yes_no_question_is_a_variable_and_a_past_form_describes_a_noun() -> None:
    assert expected_type("Is the date of diagnosis a predictor of survival?") is None
    assert expected_type("What is the approval date of Prochymal?") == ("date", None)
    newly = expected_type("How many newly diagnosed patients were treated?")
    assert newly and (newly[1] or "").startswith("patients ")
    improved = expected_type("How many children improved after treatment?")
    assert improved and (improved[1] or "").startswith("children ")
