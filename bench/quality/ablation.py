"""What each mechanism adds: every question set, dev and test, with one mechanism switched off.

    .venv/bin/python -m bench.quality.ablation [--split dev|test|all] [--only LABEL ...]

The same two indexes as `bench.quality.report` (the article; the 1000 PubMedQA abstracts), the
same questions; each row is the shipped system with one switch turned off, through the
constructor and policy arguments (`QAService(policy=..., retrieval=...)`, no monkeypatching):

- document passages: the best document's other passages are no longer scored
  (`Retriever(document_passages=0)`);
- mined abbreviations (`abbreviations=False`: also their variants, "BMSCs" for "BM-MSCs", and
  the long form's words in a sentence using the short one), the hand-written vocabulary
  (`vocabulary=False`), or both; acronyms no document defines spelt out by the retrieved
  passages' phrase with their initials (`initials=False`, "GVHD": "graft-versus-host disease"),
  with the hand vocabulary on and off;
- subject-less follow-ups (`subjects=False`: only the older anaphora rules make a follow-up);
- the model's whole words are no typos (`known_words=False`: the speller may turn "healing"
  into the corpus's "heralding"), nor an English dictionary's (`dictionary_words=False`:
  "myeloma" may become a PubMed abstract's "myoma");
- sentences that refer back (`continuations=False`: "The technology doubles the yield." is no
  longer found by the words of the sentence before it, which named the technology);
- a follow-up's conversation words (`context_terms=False`: the sentences of "How painful is
  collecting them?" are scored by its own words only, not also by the earlier turn's);
- undefined abbreviations (`acronyms=False`: a retrieved passage's "CBCT" no longer holds the
  question's "cone beam computed tomography", `mscqa.retrieval.acronyms`);
- answer units (`AnswerPolicy(units=False)`: single sentences), compound questions
  (`parts=False`), a piece for each side of a comparison (`sides=False`), answer types
  (`types=False`, or as a hard rule: `strict_types=True`; the kinds refused when no piece gives
  them, `strict_kinds=False`), unreadable parts (`unreadable=False`); the ranker without its cost
  for a unit outside the best passage's document (`other_document`), without its cost for a sentence
  stating a study's aim (`aim`), or without giving back half of a passage's gap to the best passage
  within the best document (`behind_in_document`), or without the section roles of structured
  texts (`in_results`, `in_methods`, `in_background`: `mscqa.answer.roles`); the confidence
  without its weight for a question whose subject no document names (`unknown_subject`), or
  without what a collection of documents adds, not shipped (`COLLECTION_WEIGHTS`:
  `answer.confidence.document_margin`), or with the weights shipped before session 7 refitted
  all of them together (`EARLIER_CONFIDENCE_WEIGHTS`); a refused question with history that
  reads as standing alone read again with its conversation (`reread=True`, not shipped);
- the hand-set ranker (shipped) against the learned one (`bench.quality.ranker`), both with no
  abstention threshold (the confidence model reads the ranker's score, so it is fitted to one).

Test figures are aggregates only and every run that computes them is logged in
`bench/quality/test_runs.md`. A mechanism whose dev gain does not show on test is not a gain.
The contextual sentence vectors (the section heading embedded with each sentence) are an index
setting, not a switch; `bench/README.md` gives their dev figures.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from typing import Any

from bench.quality import report
from bench.quality.ranker import LEARNED_WEIGHTS
from mscqa.answer import CONFIDENCE_WEIGHTS, RANKER_WEIGHTS, AnswerPolicy
from mscqa.answer.confidence import COLLECTION_WEIGHTS

KEYS = ("citation_hit@3", "answer_contains_gold", "false_abstention", "abstention_recall")
SHIPPED = AnswerPolicy()
_ROLES = ("in_results", "in_methods", "in_background")
# the confidence weights shipped until session 7 refitted all of them together (confidence.py)
EARLIER_CONFIDENCE_WEIGHTS = {
    **{"bias": -4.695, "top_dense": 1.868, "best_sentence": 1.87, "known": 0.799},
    **{"best_lexical": 0.774, "coverage": 2.4, "best_unit": 0.454, "answer_lexical": 0.241},
    **{"answer_dense": 0.393, "type_ok": -0.252, "type_missing": -3.474},
    **{"unknown_name": -2.959, "unknown_subject": -3.83},
}
ROWS: dict[str, dict[str, Any]] = {
    "as shipped": {},
    "- document passages": {"retrieval": {"document_passages": 0}},
    "- mined abbreviations": {"retrieval": {"abbreviations": False}},
    "- hand-written vocabulary": {"retrieval": {"vocabulary": False}},
    "- both vocabularies": {"retrieval": {"abbreviations": False, "vocabulary": False}},
    "- acronyms spelt out by initials": {"retrieval": {"initials": False}},
    "- acronyms spelt out, hand vocabulary off": {
        "retrieval": {"initials": False, "vocabulary": False}
    },
    "- subject-less follow-ups": {"retrieval": {"subjects": False}},
    "- the model's words are no typos": {"retrieval": {"known_words": False}},
    "- a dictionary's words are no typos": {"retrieval": {"dictionary_words": False}},
    "- sentences that refer back": {"retrieval": {"continuations": False}},
    "- a follow-up's conversation words": {"retrieval": {"context_terms": False}},
    "- undefined abbreviations": {"retrieval": {"acronyms": False}},
    "- answer units": {"policy": {"units": False}},
    "- compound questions": {"policy": {"parts": False}},
    "- comparison sides": {"policy": {"sides": False}},
    "- figures further down the best document": {"policy": {"further_figures": False}},
    "- answer types": {"policy": {"types": False}},
    "- strict answer kinds (price, dose, time, maker, funder)": {"policy": {"strict_kinds": False}},
    "answer types as a hard rule": {"policy": {"strict_types": True}},
    "- unreadable parts": {"policy": {"unreadable": False}},
    "- countries no document names": {"policy": {"places": False}},
    "- best document preferred": {
        "policy": {"ranker": {k: w for k, w in RANKER_WEIGHTS.items() if k != "other_document"}}
    },
    "- aim sentences are no answers": {
        "policy": {"ranker": {k: w for k, w in RANKER_WEIGHTS.items() if k != "aim"}}
    },
    "- passage gap halved in the best document": {
        "policy": {"ranker": {k: w for k, w in RANKER_WEIGHTS.items() if k != "behind_in_document"}}
    },
    "- no passage gap in a structured report's best document": {
        "policy": {"ranker": {k: w for k, w in RANKER_WEIGHTS.items() if k != "behind_in_report"}}
    },
    "- section roles of structured texts": {
        "policy": {"ranker": {k: w for k, w in RANKER_WEIGHTS.items() if k not in _ROLES}}
    },
    "- a document's pieces giving the asked figure first": {
        "policy": {"ranker": {k: w for k, w in RANKER_WEIGHTS.items() if k != "type_ok"}}
    },
    "- a subject no document names": {
        "policy": {
            "confidence": {k: w for k, w in CONFIDENCE_WEIGHTS.items() if k != "unknown_subject"}
        }
    },
    "confidence weights before session 7's refit (fitted at 5d8740d)": {
        "policy": {"confidence": EARLIER_CONFIDENCE_WEIGHTS}
    },
    "+ a refused standalone question read again with its conversation (not shipped)": {
        "policy": {"reread": True}
    },
    "+ what a collection of documents adds to the confidence (not shipped)": {
        "policy": {"confidence": CONFIDENCE_WEIGHTS | COLLECTION_WEIGHTS}
    },
    # the confidence model reads the ranker's score, so the two rankers are compared on what
    # they quote with no abstention threshold (false_abstention is then 0 by construction)
    "selection only: hand-set ranker (shipped)": {"policy": {"min_confidence": 0.0}},
    "selection only: learned ranker": {
        "policy": {"min_confidence": 0.0, "ranker": LEARNED_WEIGHTS}
    },
}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--split", choices=("dev", "test", "all"), default="all")
    ap.add_argument("--only", nargs="*", default=None, help="row labels to run")
    args = ap.parse_args(argv)
    report.quiet()
    sets = report.question_sets()
    root = report.OUT / "quality-index"
    at = report.commit()
    built = {name: report.open_service(name, root) for name, files in sets.items() if files}
    rows = {k: v for k, v in ROWS.items() if args.only is None or k in args.only}
    table: dict[str, dict[str, dict[str, Any]]] = {}
    for label, switch in rows.items():
        policy = dataclasses.replace(SHIPPED, **switch.get("policy", {}))
        services = {}
        for name, base in built.items():
            service = type(base)(base.settings, policy=policy, retrieval=switch.get("retrieval"))
            service.load()
            services[name] = service
        report.log(f"ablation row: {label}")
        table[label] = report.columns(report.run(services, sets, args.split))
        tests = {f"{label} / {k}": m for k, m in table[label].items() if k.endswith(" test")}
        if tests:
            report.log_test_run(f"bench.quality.ablation --split {args.split}", tests, at)
    columns = list(next(iter(table.values())))
    head = "| mechanism | " + " | ".join(f"{c} {k}" for c in columns for k in KEYS) + " |"
    lines = [head, "|---" * (1 + len(columns) * len(KEYS)) + "|"]
    for label, cols in table.items():
        cells = [str(cols[c].get(k)) for c in columns for k in KEYS]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    sys.stdout.write(f"commit {at}\n\n" + "\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
