"""Expected answer types: a question that asks for a figure or a name needs a piece that gives one.

"In which year did the FDA approve Prochymal?" is not answered by a sentence about Prochymal
that names no year; quoting it would look like an answer while not being one. Questions that
plainly ask for a year or date, a cost, a dose, a count, another quantity, a place, or a person
or organisation get a type; every other question is unconstrained. The checks look at the
question's own words and the sentence's form (a number, a currency amount, a capitalised name),
never at any document's content. Which capitalised words name a place comes from a gazetteer, the
ISO 3166-1 country names that ``pycountry`` ships, not from a list fitted to
one document (``places``).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable

import pycountry

_NUMBER = r"(?:(?<![\d,.])\d+(?:[,.]\d+)*|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|fifty|hundred|thousand|million|billion|dozen|half|double|doubles|twice|triple|triples)"  # noqa: E501
# a number that counts: not a year (1800-2099), which dates a study rather than counts
_COUNT = rf"(?!(?:1[89]|20)\d\d\b){_NUMBER}"
_HAS_NUMBER = re.compile(rf"\b{_NUMBER}\b|\d", re.IGNORECASE)
_HAS_YEAR = re.compile(r"\b(1[89]\d\d|20\d\d)\b")
_MONTHS = "january|february|march|april|may|june|july|august|september|october|november|december"
_HAS_TIME = re.compile(
    rf"\b(1[89]\d\d|20\d\d)\b|\b({_MONTHS})\b|\b{_NUMBER}[\s-]*(seconds?|minutes?|hours?|days?|"
    r"weeks?|months?|years?|decades?)\b",
    re.IGNORECASE,
)
# "When did ...?" is answered by a time in any form, one relative to now too ("recently
# reported", "at present"), but not by a sentence that gives none
_RELATIVE_TIME = re.compile(
    r"\b(recently|currently|presently|nowadays|today|yesterday|to date|so far|ago|"
    r"at present|at the moment|last (year|month|week|decade)|(this|next) (year|month|week)|"
    r"in the (1[89]|20)\d0s)\b",
    re.IGNORECASE,
)
_CURRENCY_CODES = r"(?:usd|eur|gbp|cad|aud|nzd|chf|jpy|cny|rmb|inr|krw|sek|nok|dkk|brl|zar)"
_HAS_MONEY = re.compile(
    r"[$€£¥₹₩]\s?\d|\b(?<![\d,.])\d+(?:[,.]\d+)*\s?(?:million\s+|billion\s+|thousand\s+)?(?:dollars?|euros?|"
    rf"yuan|yen|pounds?|won|rupees?|francs?|kronor|krona|kroner|{_CURRENCY_CODES})\b|"
    rf"\b{_CURRENCY_CODES}\s?\d",
    re.IGNORECASE,
)
# a dose: an amount of a drug (mg, µg, IU, mmol, mL, tablets, puffs), of radiation (Gy, mSv,
# MBq) or of cells, or a concentration ("0.5% bupivacaine", not "11% of patients")
_HAS_DOSE = re.compile(
    rf"\b{_NUMBER}\s?(?:x\s?10\S*\s?)?(?:mg|ml|µg|\u03bcg|ug|mcg|ng|g|kg|l|dl|iu|u|units?|"
    r"mmol|µmol|\u03bcmol|nmol|meq|gy|cgy|msv|sv|mbq|gbq|mci|tablets?|capsules?|puffs?|drops?|"
    r"cells?|million cells)\b|"
    r"\b\d*[.,]\d+\s?%\s+(?!of\b|in\b|and\b|or\b|to\b|vs\b|versus\b|were\b|was\b)[a-z]",
    re.IGNORECASE,
)

_NAME_Q = re.compile(r"\b(names?|named|brand|called|trade ?mark)\b", re.I)
# "Name the tissues that ...", "List the ...": a request for a list, not for a name
_LIST_REQUEST = re.compile(r"^\W*(?:please\s+)?(?:name|list|enumerate)\b", re.I)
_QUOTED = re.compile(r"[\"\u201c][^\"\u201d]{2,80}[\"\u201d]")
# a capitalised word or an abbreviation inside a sentence (not its first word)
_PROPER = re.compile(r"(?<=[a-z0-9,;:()] )(?:[A-Z][A-Za-z0-9-]+|[A-Z]\.(?:[A-Z]\.)+)")
_YEAR_Q = re.compile(
    r"\bwhen (did|was|were|will|has|had)\b|\bsince when\b|\bhow long ago\b",
    re.I,
)
# "In which year ...?" asks for a date: a year, a month or a day, not "after 36 months"
# ("which day"/"which month" may ask for "postoperative day 3", "the third month": no date)
# "What is the approval date?", "the date of approval", "the year of its approval": a date
# asked for by name, not "to date", "out of date" or "date back", nor "is year of surgery a
# predictor ...?" (a year as a variable)
_DATE_Q = re.compile(
    r"\b(?:(?:which|what) (?:year|date)|(?:the|what|which) year of|dates?(?!\s+back))\b", re.I
)
_HAS_DATE = re.compile(
    rf"\b(1[89]\d\d|20\d\d)\b|\b({_MONTHS})\b|\b\d{{1,2}}[/.-]\d{{1,2}}[/.-]\d{{2,4}}\b",
    re.IGNORECASE,
)
# "How long does processing take?", "What is the recovery time?": a length of time (or, "how
# long is the needle?", of something else)
_DURATION_Q = re.compile(
    r"\bhow long\b(?! ago)|\bhow much time\b|"
    r"\b(what|which)(?: is|'s| are| was| were)? the (?:\w+ ){0,3}?(?:time|duration|period)\b",
    re.I,
)
_UNIT_OF_TIME = (
    r"(?:seconds?|secs?|minutes?|mins?|hours?|hrs?|h|days?|nights?|weeks?|wks?|months?|mos?|"
    r"years?|yrs?|decades?)"
)
_UNIT_OF_LENGTH = r"(?:mm|cm|m|km|millimet(?:er|re)s?|centimet(?:er|re)s?|met(?:er|re)s?|kilomet(?:er|re)s?|inch(?:es)?|feet|foot|miles?)"  # noqa: E501
_DURATION = re.compile(
    rf"\b{_NUMBER}(?:\s*(?:-|to|and|or)\s*{_NUMBER})?[\s-]*(?:{_UNIT_OF_TIME}|{_UNIT_OF_LENGTH})\b"
    r"|\bovernight\b|\bsame day\b|\bsince (?:1[89]\d\d|20\d\d)\b|"
    rf"\bfor (?:{_UNIT_OF_TIME})\b|"
    rf"\b(?:an?|several|few|many)\s+(?:few\s+|couple\s+of\s+)?{_UNIT_OF_TIME}\b",
    re.IGNORECASE,
)
# a duration said as a difference: "reduces the time by 20 minutes", "saves 2 hours", "3 days
# shorter": it tells how much time a change gains, not how long the thing takes
_DIFFERENCE_BEFORE = re.compile(
    r"\b(?:by|saves?|saved|saving|cuts?|shortens?|shortened|gains?|gained)\s+(?:about\s+|around\s+|"
    r"nearly\s+|almost\s+|up to\s+|more than\s+|over\s+|at least\s+)?$",
    re.I,
)
_DIFFERENCE_AFTER = re.compile(
    r"^\s*(?:faster|shorter|less|fewer|earlier|sooner|quicker|longer|more|saved|"
    r"(?:of\s+)?(?:time\s+)?sav(?:ed|ings?))\b",
    re.I,
)
# a question that itself asks for a difference ("How much time does it save?", "How long
# does it take compared with the old way?") is answered by one
_ASKS_DIFFERENCE = re.compile(
    r"\b(sav(e|es|ed|ing)|shorten\w*|reduc\w*|faster|quicker|slower|shorter|longer|less|more|"
    r"differ\w*|compar\w*|than|gain\w*|cut)\b",
    re.I,
)
# "Who makes Prochymal?", "Which company manufactures it?": a maker is an organisation, named
# as one ("Osiris Therapeutics", "Mesoblast Ltd") or as the one something is made by
_MAKER_Q = re.compile(
    r"\bwho (makes|made|manufactures|manufactured|produces|produced|sells|sold|markets|marketed|"
    r"supplies|supplied|distributes|distributed)\b|"
    r"\b(which|what) (company|companies|manufacturers?|firms?|makers?|drugmakers?|"
    r"pharmaceutical compan(y|ies)|biotech compan(y|ies))\b|"
    r"\b(manufacturer|maker|producer|supplier|distributor|vendor|seller)s? of\b",
    re.I,
)
# "Who funded the research?": a funder is named as one ("funded by", "a grant from")
_FUNDER_Q = re.compile(
    r"\bwho (funded|funds|sponsored|sponsors|financed|finances|paid for|pays for|backed)\b|"
    r"\b(which|what) (funders?|sponsors?|funding (bod(y|ies)|agenc(y|ies)|sources?))\b",
    re.I,
)
_FUNDING = re.compile(
    r"\b(?:funded|sponsored|financed|supported|paid for|backed)\s+(?:in part\s+|partly\s+)?by\b|"
    r"\b(?:grants?|funding|funder|funders|sponsors?|sponsorship|foundation)\b",
    re.I,
)
_ORGANISATION = re.compile(
    r"(?<![\w&.-])[A-Z][\w&.-]*\s+(?:Inc|Ltd|LLC|Corp|Corporation|Co|GmbH|AG|S\.?A|plc|Pharma|"
    r"Pharmaceuticals?|Therapeutics|Biotech|Biotechnology|Biosciences?|Biologics|Biomedical|"
    r"Laborator(?:y|ies)|Labs|Holdings|Medical|Healthcare|Institute|University|Cent(?:er|re)|"
    r"College|Academy)\b|"
    r"\b(?:made|manufactured|produced|marketed|developed|sold|supplied|distributed|owned|"
    r"licensed|pioneered|invented|created|designed|founded|launched|introduced)\s+by\s+"
    r"(?:the\s+)?(?:company\s+|firm\s+)?[A-Z]|"
    r"\b(?:company|companies|manufacturer|firm|maker|drugmaker)\s*,?\s+(?:called\s+|named\s+)?[A-Z]|"
    r"(?<![\w&.-])[A-Z][\w&.-]+(?:'s)?\s+(?:company|manufacturer|firm)\b",
)
_MONEY_Q = re.compile(
    r"\bhow much (does|do|did|will|would|is|are|was|were|should|could|can)\b.*"
    r"\b(cost|costs|pay|paid|charge|charged|spend|spent|price[ds]?|be)\b|"
    r"\bhow much money\b|"
    r"\b(what|which)(?:'s| is| are| was| were) (?:the |its |their |a )?(?:\w+ )?"
    r"(price|cost|fee|charge)s?\b(?![- ]effective)|"
    r"\b(what|how) about (the|its|their) (price|cost|fee)s?\b|"
    r"\b(price|cost|fee)s? (of|for)\b.*\b(dollars?|euros?|yuan|usd)\b|\bexchange rate\b|"
    r"\bin (us )?dollars\b|\bwhat does (it|this|that|the \w+|a \w+) cost\b|"
    # the price asked of a thing in other words: "what does one course of X cost?", "what do
    # clinics charge for ...?", "what would a patient pay?", "how much is one treatment?",
    # "the going rate", "tell me the cost of ...", "what is X priced at?"
    # (the verb, not "the surface charge of"; an amount of a dose or a yield is no price)
    r"\bwhat (does|do|did|would|will|might) (?:[\w-]+ ){1,6}?(cost|charge|pay(?! attention))"
    r"\b(?=\s*(?:[?.]|$|for|per|in|at|on|to|a|an|the|each|you|me|us|them|patients?|if)\b|\s*\?)|"
    r"\bhow much (is|are|was|were) (a|an|one|each|per|single)\b"
    r"(?!(?: [\w-]+){0,3} (?:dose|doses|dosage|yield|amount|number|volume|share|portion)\b)"
    r"(?: [\w-]+){1,5}?(?<!ed)\s*\?*\s*$|"
    r"\bset (me|you|us|them|patients?) back\b|\bgoing rate\b|\bpriced at\b|"
    r"\b(tell|give) (me|us) (the |its |their )?(price|cost|fee)s?\b|"
    r"\b(do|does) (you|anyone) know (the |its |their )(price|cost|fee)s?\b|"
    r"\bwhat price\b",
    re.I,
)
# a question that names the unit of time it asks for, before any other kind's word
_TIME_ASKED = re.compile(r"\bhow (much time|many (minutes|hours|days|weeks|months))\b", re.I)
_DOSE_Q = re.compile(r"\b(what|which|how much|how many)\b.*\bdos(e|es|age|ing)\b", re.I)
# "how many <noun phrase>": up to five words, of which the counted noun is the last one before
# a word that ends the phrase ("how many primary rectal cancer *cases* was surgery ...")
_COUNT_Q = re.compile(r"\bhow many ((?:[a-z-]+\s+){0,4}[a-z-]+)", re.I)
# words that end the counted noun phrase ("how many eligible cases *were* ...")
_PHRASE_END = frozenset(
    [
        *("a", "an", "and", "are", "as", "at", "by", "did", "do", "does", "for", "from", "had"),
        *("has", "have", "in", "into", "is", "of", "on", "or", "per", "the", "to", "undergoing"),
        *("was", "were", "which", "who", "whose", "will", "with", "within", "would"),
        *("you", "we", "they", "it", "can", "could", "should", "may", "might", "must", "be"),
        *("been", "there", "after", "before", "during", "since", "among", "between", "over"),
        *("under", "than", "that", "this", "these", "those", "when", "where", "while", "if"),
        *("shall", "he", "she"),
    ]
)
_PAST = re.compile(r"^[a-z]{3,}ed$")
_PARTITIVE = frozenset(["of", "the", "these", "those", "all", "them", "our", "their", "its"])
_SAMPLE_Q = re.compile(r"\b(sample size|number of (participants|subjects|patients|people))\b", re.I)
_SAMPLE_UNITS = (
    "patients participants subjects people persons individuals volunteers cases children adults "
    "women men"
)
# a count of people is answered by a count of any word for people: "how many people were
# treated?" by "30 patients were treated", "how many women ... had CA125 measured?" by
# "measured in 72 patients with ovarian endometriomas" (a study's people are its patients,
# subjects or cases whatever the question calls them); a noun that is no word for people
# ("platelet concentrates") keeps its own words
_PEOPLE = (frozenset(_SAMPLE_UNITS.split()) - {"cases"}) | {
    *("mothers", "fathers", "infants", "babies", "newborns", "neonates", "boys", "girls"),
    *("students", "workers", "residents", "physicians", "doctors", "nurses", "respondents"),
}
# a share of a whole: "What percentage ...?", "What proportion of the referrals ...?"
_PERCENT_Q = re.compile(
    r"\b(what|which) (percentage|proportion|fraction|share)\b|\bby what percentage\b|"
    r"\b(what|how many) per ?cent\b|"
    r"\b(what|which) (is|are|was|were) the (\w+ )?(percentage|proportion|fraction)\b",
    re.I,
)
_HAS_PERCENT = re.compile(
    r"%|\bper ?cent\b|\b(half|halves|thirds?|quarters?|fifths?|tenths?)\b|"
    r"\b(?<![\d,])\d+(?:,\d+)* (of|out of) (the |all )?\d+(?:,\d+)*\b|\b(one|1) in \d+",
    re.I,
)
_QUANTITY_Q = re.compile(
    # "how far along ...?", "how far have the trials got?": progress, not a distance
    r"\bhow (long|much|far(?! along)(?!\s+(?:have|has|had)\s+(?:\S+\s+){0,4}?"
    r"(?:got|gotten|gone|come|progressed|advanced|reached)\b)|often|old|large|big|fast|"
    r"strongly|high|low|many)\b|"
    r"\b(what|which) (percentage|proportion|share|fraction|rate|ratio|number|amount|level|"
    r"score|value|mean|median|average|size|odds ratio|incidence|prevalence)\b|"
    r"\bby (how much|what (percentage|factor|amount))\b|\bto what extent\b|"
    r"\b(what|which) (is|are|was|were) the (\w+ )?(number|size|sample size|age|age limit|"
    r"amount|rate|percentage|proportion|duration|length|frequency|dose|dosage|concentration)\b|"
    r"\b(survival|success|response) rate\b",
    re.I,
)
# "how much trauma/pain/blood ...": the noun whose amount is asked (not "how much does ...")
_HOW_MUCH_NOUN = re.compile(
    r"\bhow much (?!(?:does|do|did|is|are|was|were|will|would|can|could|should|has|have|had|"
    r"more|less|longer|shorter|faster|slower|better|worse|higher|lower)\b)([a-z]{3,})\b",
    re.I,
)
# words that state an amount without a figure ("no trauma", "less pain", "minimal blood loss")
_DEGREE = (
    r"(?:no|little|less|least|more|most|much|minimal|minor|great|greater|small|smaller|large|"
    r"larger|significant|considerable|mild|severe|reduced|increased|lower|higher)"
)
# "How many more patients ...?", "How much bigger is the yield?", "How much quicker is it than
# the old way?": a difference, answered by two figures to compare or by one stated as a
# difference ("by 20 minutes", "3-fold", "doubles", "12 more patients")
_COMPARATIVE = (
    r"(?:more|less|fewer|bigger|larger|smaller|higher|lower|greater|faster|slower|quicker|"
    r"longer|shorter|better|worse|cheaper|older|younger|heavier|lighter|earlier|later)"
)
# ("how much more painful is it?" asks for a degree, which words can state: no difference)
_DIFFERENCE_Q = re.compile(
    rf"\bhow many (?:more|fewer|less)\b|\bhow much (?!more\b|less\b){_COMPARATIVE}\b|"
    r"\bhow much (?:more|less)\b(?!\s+[a-z]+(?:ful|ous|ive|ant|ent|able|ible|al|ic|y)\b)",
    re.I,
)
# a figure in a sentence: digits with their decimal or thousands separators, not inside a word
_AMOUNT = r"(?<![\w.,])\d+(?:[,.]\d+)*"
_FIGURE = re.compile(_AMOUNT)
_STATED_DIFFERENCE = re.compile(
    rf"\bby\s+(?:about\s+|around\s+|nearly\s+|almost\s+|up to\s+|over\s+)?{_NUMBER}\b|"
    rf"\b{_NUMBER}\s*(?:-\s*)?(?:fold|times|x)\b|"
    r"\b(?:twice|double[sd]?|doubling|triple[sd]?|tripling|halve[sd]?|halving)\b|"
    rf"\b{_NUMBER}\s*%?\s+(?:\w+\s+){{0,2}}?{_COMPARATIVE}\b",
    re.I,
)
# "Who led the research team?", "Which scientist discovered it?": a person, not an
# organisation ("the Intelligent Enterprise Management Institute" leads no team)
_HUMAN_Q = re.compile(
    r"\bwho (led|leads|headed|heads|directed|directs|supervised|supervises|authored)\b|"
    # (a profession may ask for a kind of people, not a name: "which doctor treats GVHD?",
    # "which doctors use them?"; "what person-years" is a measure)
    r"\b(which|what) (scientists?|researchers?|investigators?|professors?|authors?|inventors?|"
    r"leaders?|biologist|chemist)\b(?!-)",
    re.I,
)
_ROLE = (
    r"(?:scientists?|researchers?|investigators?|professors?|doctors?|physicians?|surgeons?|"
    r"authors?|inventors?|biologists?|chemists?|clinicians?|leaders?|colleagues|"
    r"(?:led|headed|directed|supervised|authored|written) by)"
)
_ORG_WORD = (
    r"(?:Inc|Ltd|LLC|Corp|Corporation|Co|GmbH|AG|plc|Pharma|Pharmaceuticals?|Therapeutics|"
    r"Biotech|Biotechnology|Biosciences?|Biologics|Biomedical|Laborator(?:y|ies)|Labs|Holdings|"
    r"Medical|Healthcare|Institute|University|Cent(?:er|re)|College|Academy|Hospital|Group|"
    r"Foundation|Society|Association|Agency|Administration|Council|Ministry|Department)"
)
# a person's name by its form: a title ("Dr. Chen", "Professor Caplan"), a citation ("Smith et
# al."), initials before a surname ("A. J. Friedenstein"), a name after a word for a person or
# after "led by" ("researcher Arnold Caplan") that no organisation's word follows, or a name
# with "and colleagues", "'s team"
_HUMAN = re.compile(
    r"\b(?:Dr|Prof|Professor|Mr|Mrs|Ms|Sir|Dame)\.?\s+[A-Z][a-z]|"
    r"\b[A-Z][a-z]+(?:-[A-Z][a-z]+)?(?:\s+and\s+[A-Z][a-z]+)?,?\s+et\s+al\b|"
    r"(?<![\w.])(?!U\.\s?[SK]\.|E\.\s?U\.)[A-Z]\.\s?(?:[A-Z]\.\s?)*[A-Z][a-z]{2,}|"
    rf"\b{_ROLE}\s+(?:named\s+|called\s+)?(?:(?!{_ORG_WORD}\b)[A-Z][a-z]+\s+)?"
    rf"(?!{_ORG_WORD}\b)[A-Z][a-z]+\b"
    rf"(?!\s+(?:[A-Z][a-z]+\s+)*{_ORG_WORD}\b)|"
    r"\b[A-Z][a-z]+\s+[A-Z][a-z]+(?:\s+and\s+(?:(?:his|her|their)\s+)?(?:colleagues|co-?workers)|"
    r"'s\s+(?:team|group|lab))\b"
)
# "Does X cause side effects?", "Is it dangerous?", "What are the risks of liposuction?": a
# question about harm or safety, answered by a sentence that states one (an adverse event, a
# risk, a complication, its absence, or that something is safe), not by one about the same
# subject that says nothing of harm (the ranker also asks that it be about the question's own
# subject: ``ranker.unit_features``)
_HARM_Q = re.compile(
    r"\bside[- ]effects?\b|\badverse (?:effects?|events?|reactions?|outcomes?)\b|"
    r"\b(?:safe|unsafe|dangerous|harmful|risky|toxic|hazardous)\b|"
    # the risks of something, not "the risk of" an outcome, which a rate answers
    r"\b(?:risks|dangers|harms|hazards|complications)(?:\s+(?:of|from|with|in|for|are|were|do)\b|"
    r"\s*\?)|"
    r"\bcause[sd]?\s+(?:any\s+)?(?:harm|damage|cancer|tumou?rs?|problems?)\b",
    re.I,
)
_HARM = re.compile(
    r"\b(?:side[- ]effects?|adverse|safe|safely|safety|unsafe|harm\w*|danger\w*|risks?|risky|"
    r"toxic\w*|complications?|tolera\w*|morbidity|mortality|deaths?|died|fatal\w*|injur\w*|"
    r"damag\w*|infections?|tumou?r\w*|cancers?|carcinogen\w*|malignan\w*|rejection|pain\w*|"
    r"bleeding|ha?emorrhag\w*|hazard\w*|contraindicat\w*|trauma\w*|discomfort|worsen\w*|"
    r"aggravat\w*|exacerbat\w*|deteriorat\w*|"
    r"(?:allergic\s+)?reactions?)\b",
    re.I,
)
_PLACE_Q = re.compile(
    r"\b(which|what|in which|in what) (countr(y|ies)|cit(y|ies)|regions?|states?|continents?|"
    r"nations?|places?|locations?|hospitals?)\b",
    re.I,
)
_PERSON_Q = re.compile(
    r"\bwho (developed|invented|discovered|pioneered|founded|created|designed|proposed|reported|"
    r"led|conducted|performed|wrote|published|approved|made|makes|manufactures|sells|owns|runs|"
    r"funded|sponsored|is behind|was behind)\b|"
    r"\b(which|what) (company|companies|institutes?|institutions?|universit(y|ies)|team|group|"
    r"researchers|scientists|organi[sz]ations?|agenc(y|ies)|manufacturers?|firms?|labs?|"
    r"laborator(y|ies)|journals?|authors?)\b",
    re.I,
)

# A quantity the question names ("what mean tidal volume", "what odds ratio", "how old")
# is given in its own unit or notation (``satisfies``): the first such name in the question,
# in the order it is asked, decides. Units of measurement (SI and the clinical ones) and the
# notations of epidemiology, not any document's words.
_MEASURE_Q = re.compile(
    r"\b(?:(?P<odds>odds ratios?|odds)|(?P<hazard>hazard ratios?)|"
    r"(?P<risk>relative risks?|risk ratios?)|(?P<correlation>correlation coefficients?)|"
    r"(?P<volume>volumes?)|(?P<mass>weights?|mass)|"
    r"(?P<length>lengths?|diameters?|depths?|thickness|distances?|heights?|widths?)|"
    r"(?P<pressure>pressures?)|(?P<temperature>temperatures?)|(?P<age>ages?|how old))\b",
    re.I,
)
_MEASURES = {
    "odds": re.compile(r"(?:(?-i:\ba?ORs?\b)|odds ratios?)[^.;]{0,40}?\d", re.I),
    "hazard": re.compile(r"(?:(?-i:\ba?HRs?\b)|hazard ratios?)[^.;]{0,40}?\d", re.I),
    "risk": re.compile(r"(?:(?-i:\bRRs?\b)|relative risks?|risk ratios?)[^.;]{0,40}?\d", re.I),
    "correlation": re.compile(r"(?:\b(?:r|rho|ρ)\s*=|correlation coefficient)[^.;]{0,40}?\d", re.I),
    "volume": re.compile(
        rf"{_AMOUNT}\s*(?:ml|l|dl|cc|µl|\u03bcl|litres?|liters?|millilit(?:er|re)s?|m3)\b",
        re.I,
    ),
    "mass": re.compile(rf"{_AMOUNT}\s*(?:kg|g|mg|lbs?|pounds?|grams?|kilograms?|%)(?!\w)", re.I),
    "length": re.compile(rf"{_AMOUNT}\s*{_UNIT_OF_LENGTH}\b", re.I),
    "pressure": re.compile(rf"{_AMOUNT}\s*(?:mm\s?Hg|kPa|hPa|cm\s?H2O|mbar|bar|psi)\b", re.I),
    "temperature": re.compile(rf"{_AMOUNT}\s*(?:°\s?[CF]|degrees?\b)", re.I),
    "age": re.compile(
        rf"{_AMOUNT}\s*(?:-|to)?\s*(?:years?|yrs?|y|months?|mo|weeks?|days?)\b|\baged?\b[^.;]{{0,30}}?\d",
        re.I,
    ),
}

KINDS = (
    *("year", "date", "duration", "money", "dose", "name", "count", "percent", "quantity"),
    "measure",
    *("place", "maker", "funder", "person", "human", "difference", "harm"),
)
# Kinds whose absence from every piece good enough to quote means the documents do not answer:
# a price without a currency amount, a dose without a dose, a date or a time ("when did ...?")
# without one, a length of time without one (or with only a time saved), a maker without an
# organisation, a funder without a word of funding, a leader or a scientist without a person's
# name, a difference without two figures or one stated as a difference, a question about harm
# or safety without a sentence that states one about its subject. The other
# kinds are asked in words that also fit answers without the figure ("how many cells you can
# get" -> "limited"), so for them a missing figure is evidence for the confidence model.
STRICT_KINDS = frozenset(
    {"money", "dose", "year", "date", "duration", "maker", "funder", "human", "difference", "harm"}
)


def expected_type(question: str) -> tuple[str, str | None] | None:
    """``(type, detail)`` for questions asking for a figure or a name, else ``None``.

    Types: ``year`` (a time: "when did ...?"), ``date`` (a year, month or day), ``duration``
    (a length of time; detail ``"difference"`` when the question asks for a time gained),
    ``money``, ``dose``, ``maker`` (an organisation), ``funder``, ``difference`` (two figures or
    one stated as a difference: "how many more ...?"), ``count`` (detail = the counted noun),
    ``percent`` (a share of a whole), ``measure`` (a quantity the question names, given in its
    unit or notation; detail = which: ``volume``, ``odds``, ``age``, ...), ``quantity`` (any
    other figure), ``place``, ``human`` (a person's name: "who led ...?", "which scientist
    ...?"), ``person`` (a person or organisation), ``name`` (detail = the question, whose own
    words do not count as the name), ``harm`` (a statement of harm or safety: "does it cause
    side effects?", "is it dangerous?").
    """
    if _asks_date(question):
        return ("date", None)
    if _YEAR_Q.search(question):
        return ("year", None)
    if _MONEY_Q.search(question):
        return ("money", None)
    if _TIME_ASKED.search(question):
        # the asked unit is named: "how much time dose it save" (a misspelt "does") asks for a
        # time, not a dose
        return ("duration", "difference" if _ASKS_DIFFERENCE.search(question) else None)
    if _DOSE_Q.search(question):
        return ("dose", None)
    if _NAME_Q.search(question) and not _LIST_REQUEST.match(question):
        return ("name", question)
    if _DIFFERENCE_Q.search(question) and not _DURATION_Q.search(question):
        return ("difference", None)
    if _SAMPLE_Q.search(question):
        # the size of a study's sample is a count of the people (or cases) in it
        return ("count", _SAMPLE_UNITS)
    m = _COUNT_Q.search(question)
    if m:
        words = m.group(1).lower().split()
        while len(words) > 1 and words[0] in _PARTITIVE:
            words = words[1:]  # "how many of the children ..." counts children
        # the phrase ends at a word that ends it, or at a verb's past ("children *improved*")
        # ("how many newly diagnosed *patients*": a past form before a noun describes it)
        end = next(
            (
                i
                for i, w in enumerate(words[1:], 1)
                if w in _PHRASE_END
                or (_PAST.search(w) and (i + 1 == len(words) or words[i + 1] in _PHRASE_END))
            ),
            len(words),
        )
        # the counted noun is the phrase's head, its last word ("eligible *cases*", "platelet
        # *concentrates*"): a number before a modifier ("46 patients with primary rectal
        # cancer" for "how many primary rectal cancer cases ...") counts something else
        head = words[end - 1]
        if head in _PEOPLE or head == "cases":
            # every word for people: a study's cases are its patients, and the reverse
            return ("count", " ".join(dict.fromkeys([head, *_SAMPLE_UNITS.split()])))
        return ("count", head)
    if _PERCENT_Q.search(question):
        return ("percent", None)
    if _DURATION_Q.search(question):
        # detail "difference" when the question asks how much time something gains
        return ("duration", "difference" if _ASKS_DIFFERENCE.search(question) else None)
    if _QUANTITY_Q.search(question):
        measure = _MEASURE_Q.search(question)
        if measure:
            # "What mean tidal volume ...?" is answered by a volume, "what odds ratio ...?"
            # by an odds ratio: not by any number ("r = 0.398", "three levels")
            return ("measure", next(k for k, v in measure.groupdict().items() if v))
        much = _HOW_MUCH_NOUN.search(question)
        return ("quantity", much.group(1).lower() if much else None)
    if _PLACE_Q.search(question):
        return ("place", None)
    if _HUMAN_Q.search(question):
        return ("human", None)
    if _MAKER_Q.search(question):
        return ("maker", None)
    if _FUNDER_Q.search(question):
        return ("funder", None)
    if _PERSON_Q.search(question):
        return ("person", question)
    if _HARM_Q.search(question):
        return ("harm", None)
    return None


def satisfies(kind: tuple[str, str | None], sentence: str) -> bool:
    """Whether ``sentence`` contains a figure or name of the expected kind."""
    name, detail = kind
    if name == "year":
        return bool(_HAS_TIME.search(sentence) or _RELATIVE_TIME.search(sentence))
    if name == "date":
        return bool(_HAS_DATE.search(sentence))
    if name == "duration":
        return any(
            detail == "difference" or not _is_difference(sentence, m.start(), m.end())
            for m in _DURATION.finditer(sentence)
        )
    if name == "maker":
        return bool(_ORGANISATION.search(sentence))
    if name == "harm":
        return bool(_HARM.search(sentence))
    if name == "human":
        return bool(_HUMAN.search(sentence))
    if name == "difference":
        return bool(_STATED_DIFFERENCE.search(sentence) or len(set(_FIGURE.findall(sentence))) >= 2)
    if name == "funder":
        return bool(_FUNDING.search(sentence))
    if name == "money":
        return bool(_HAS_MONEY.search(sentence))
    if name == "dose":
        return bool(_HAS_DOSE.search(sentence))
    if name == "percent":
        return bool(_HAS_PERCENT.search(sentence))
    if name == "measure":
        return bool(_MEASURES[detail or ""].search(sentence))
    if name == "name":
        if _QUOTED.search(sentence):
            return True
        return bool(_new_names(sentence, detail, skip_places=True))
    if name == "person":
        return bool(_new_names(sentence, detail, skip_places=True))
    if name == "place":
        # a country ("Japan has approved..."), or a name after a word of place ("in Boston",
        # "at the Mayo Clinic"): not any name, "the Enterprise Institute (SMART)" names no place
        return bool(places(sentence) or _LOCATED.search(sentence))
    if name == "count":
        # the counted nouns (detail: "trials", or every word for people): a number before one
        # of them, or right after it ("patients (n = 23)"); a year counts nothing unless it
        # stands right before the noun ("between 2000 and 2011 including patients");
        # a count of people is also a sample size written "(n = 45)"
        nouns = (detail or "").split()
        if len(nouns) > 1 and _SAMPLE_SIZE.search(sentence):
            return True
        return any(
            re.search(rf"\b{_COUNT}\s+(?:\S+\s+){{0,3}}{re.escape(stem)}", sentence, re.I)
            or re.search(rf"\b{_NUMBER}\s+{re.escape(stem)}", sentence, re.I)
            or re.search(rf"{re.escape(stem)}\w*[\s:]*\(?(?:n\s*=\s*)?\d", sentence, re.I)
            for stem in {w[:5] for w in nouns}
        )
    if detail and re.search(rf"\b{_DEGREE}\s+(?:\w+\s+)?{re.escape(detail[:5])}", sentence, re.I):
        return True  # "how much trauma ...?" -> "almost no trauma": an amount said in words
    return bool(_HAS_NUMBER.search(sentence))


# a sample's size as studies write it, "(n = 45)", "n=12": a count of its people
_SAMPLE_SIZE = re.compile(r"\bn\s*=\s*\d", re.I)


def _asks_date(question: str) -> bool:
    """Whether ``question`` asks for a date (``_DATE_Q``), "to date" and "out of date" aside
    (checked here rather than by look-behinds, which would slow the pattern's scan)."""
    yes_no = bool(_YES_NO.match(question))
    for m in _DATE_Q.finditer(question):
        before = question[max(0, m.start() - 3) : m.start()].lower()
        bare = m.group().lower().startswith("date")
        if bare and yes_no:
            continue  # "Is the date of diagnosis a predictor ...?": a date as a variable
        if not bare or before not in ("to ", "to-", "of "):
            return True
    return False


# a question answered by yes or no: it opens with an auxiliary verb (``answer.roles`` has its
# own for method questions: both are layer-0 modules, which import nothing of the package)
_YES_NO = re.compile(
    r"\s*(is|are|was|were|do|does|did|can|could|will|would|should|has|have|had|may|might)\b",
    re.I,
)


def _is_difference(sentence: str, start: int, end: int) -> bool:
    """Whether the duration at ``sentence[start:end]`` is said as a time gained or lost ("by 20
    minutes", "saves two hours", "3 days shorter") rather than as how long something lasts."""
    return bool(
        _DIFFERENCE_BEFORE.search(sentence[max(0, start - 40) : start])
        or _DIFFERENCE_AFTER.match(sentence[end : end + 30])
    )


def _new_names(sentence: str, question: str | None, *, skip_places: bool) -> list[str]:
    """Capitalised names in ``sentence`` that the question does not already use."""
    asked = {w.lower() for w in re.findall(r"[A-Za-z0-9.-]+", question or "")}
    if skip_places:
        asked |= {w.lower() for name in places(sentence) for w in name.split()}
    return [w for w in _PROPER.findall(sentence) if w.lower() not in asked]


def places(text: str) -> list[str]:
    """The country names in ``text`` ("Germany", "South Korea", "United States", "U.S.", "USA")."""
    table = _countries()
    out: list[str] = []
    end = 0
    for word in _CAPITALISED.finditer(text):
        if word.start() < end:
            continue  # inside the name found before ("Korea" of "South Korea")
        at = word.start()
        for name in table.get(word.group(), table.get(word.group().rstrip("."), ())):
            after = at + len(name)
            if text.startswith(name, at) and not _NAME_GOES_ON.match(text, after):
                out.append(name)
                end = after
                break
    return out


_LOCATED = re.compile(
    r"\b(?:in|at|from|near|based in|located in)\s+(?:the\s+)?(?:[A-Z][a-z]+\s+)*[A-Z][a-z]+"
)
_CAPITALISED = re.compile(r"(?<![\w.-])[A-Z][\w'.-]*")
_NAME_GOES_ON = re.compile(r"[\w-]")


def country_code(name: str) -> str | None:
    """The ISO 3166-1 alpha-2 code of a country name in any of its forms ("United States",
    "U.S.", "USA" and "US" are all ``"US"``), or ``None`` for a name that is no country's."""
    return _codes().get(name.strip().rstrip("."))


def named_countries(texts: Iterable[str]) -> frozenset[str]:
    """The alpha-2 codes of the countries ``texts`` name, in whatever form (``places``)."""
    return frozenset(
        code for text in texts for name in places(text) if (code := country_code(name))
    )


@functools.cache
def _country_forms() -> dict[str, str]:
    """Every country's names in ISO 3166-1 (short, common, official, and the short name's part
    before a comma: "Korea" of "Korea, Republic of"), its three-letter code and its two-letter
    code written with dots ("U.S."), each -> its alpha-2 code, from ``pycountry``'s database
    (read on first use, ~15 ms). A form two countries share keeps the first one's code."""
    out: dict[str, str] = {}
    for country in pycountry.countries:
        code = country.alpha_2
        for attr in ("name", "common_name", "official_name"):
            name = getattr(country, attr, None)
            if name:
                out.setdefault(name, code)
                out.setdefault(name.split(", ")[0], code)
        out.setdefault(country.alpha_3, code)
        out.setdefault(".".join(code) + ".", code)
    return out


def country_forms(code: str) -> tuple[str, ...]:
    """Every form of the name of the country with alpha-2 ``code`` (``_country_forms``):
    "US" -> "United States", "United States of America", "USA", "U.S.", ..."""
    return _forms_by_code().get(code, ())


@functools.cache
def _forms_by_code() -> dict[str, tuple[str, ...]]:
    table: dict[str, list[str]] = {}
    for form, code in _country_forms().items():
        table.setdefault(code, []).append(form)
    return {code: tuple(forms) for code, forms in table.items()}


@functools.cache
def _codes() -> dict[str, str]:
    """``_country_forms`` without a trailing dot ("U.S"), plus the two-letter codes themselves
    ("US") and "UK", the code ISO 3166 reserves for the United Kingdom."""
    out: dict[str, str] = {"UK": "GB"}
    for form, code in _country_forms().items():
        out.setdefault(form.rstrip("."), code)
    for code in _country_forms().values():
        out.setdefault(code, code)
    return out


@functools.cache
def _countries() -> dict[str, tuple[str, ...]]:
    """Every form of a country's name (``_country_forms``) by its first word, longest first."""
    table: dict[str, list[str]] = {}
    for name in sorted(_country_forms(), key=len, reverse=True):
        first = _CAPITALISED.match(name)
        if first:
            table.setdefault(first.group(), []).append(name)
    return {word: tuple(group) for word, group in table.items()}
