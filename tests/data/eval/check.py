"""Validate the frozen question sets (stdlib only): ``python3 tests/data/eval/check.py``.

Checks every record of ``article.{dev,test,dev2,test2,test3,test4,test5,dev3}.jsonl`` and
``pubmed.{dev,test,dev2,test2,test3,test4,test5}.jsonl``:
valid JSON, unique ids with the file's prefix, only known fields and kinds, in-scope records carry
gold phrases and each phrase occurs (case-insensitive, whitespace-normalised) in its document — the
article's body, or the ``CONTEXTS`` of the ``gold_doc`` abstract, which must be one drawn for that
file (``pubmed.draw.json`` for dev/test, ``pubmed.draw2.json`` for dev2, ``pubmed.draw3.json`` for
test2, ``pubmed.draw4.json`` for test3, ``pubmed.draw5.json`` for test4, ``pubmed.draw6.json``
for test5); assistant turns of a
history quote the article verbatim; out-of-scope PubMedQA questions name key terms that occur in
none of the 1000 abstracts. Across files: no question repeats or nearly repeats another file's
(the old ``devset.jsonl``/``heldout.jsonl`` included), both splits hold every kind and so does each
``dev2``, ``test2``, ``test3``, ``test4`` and ``test5`` file, the dev2 abstracts are none of the 40
drawn before, the test2 ones none of the 60, the test3 ones none of the 75, the test4 ones none of
the 90 and the test5 ones none of the 105, the article test split has at least
160 questions, and ``split.py`` reproduces the files it makes.

The ``dev2`` files (written on 2026-12-02, see README.md) are dev: more questions in the test
split's styles to tune on. They are not made by ``split.py``; the test files stay as they were.

The ``test2`` files (written on 2026-12-02, blind: see README.md) are a second frozen **test** set,
over abstracts of a third draw; like dev2 they must not repeat or nearly repeat any other file.
The ``test3`` files (written on 2026-12-02, blind, in session 4) are a third frozen test set over a
fourth draw, under the same rules, the ``test4`` files (blind, in session 5) a fourth one over
a fifth draw, and the ``test5`` files (blind, in session 7) a fifth one over a sixth draw.
``article.dev3.jsonl`` (2026-12-04) is dev again, written the blind sets' way (no PubMedQA part):
like the other later files it must not repeat or nearly repeat any other file.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
ARTICLE = REPO / "corpus" / "msc-article.md"
PUBMEDQA = REPO.parent / "shared" / "bench" / "pubmedqa" / "ori_pqal.json"
OLD_DEV = [REPO / "tests" / "data" / "devset.jsonl", REPO / "tests" / "data" / "heldout.jsonl"]
FILES = {
    "article.dev.jsonl": ("article", "dev", "ad"),
    "article.test.jsonl": ("article", "test", "at"),
    "pubmed.dev.jsonl": ("pubmed", "dev", "pd"),
    "pubmed.test.jsonl": ("pubmed", "test", "pt"),
    "article.dev2.jsonl": ("article", "dev2", "ae"),
    "pubmed.dev2.jsonl": ("pubmed", "dev2", "pe"),
    "article.test2.jsonl": ("article", "test2", "au"),
    "pubmed.test2.jsonl": ("pubmed", "test2", "pu"),
    "article.test3.jsonl": ("article", "test3", "av"),
    "pubmed.test3.jsonl": ("pubmed", "test3", "pv"),
    "article.test4.jsonl": ("article", "test4", "aw"),
    "pubmed.test4.jsonl": ("pubmed", "test4", "pw"),
    "article.test5.jsonl": ("article", "test5", "ay"),
    "pubmed.test5.jsonl": ("pubmed", "test5", "py"),
    "article.dev3.jsonl": ("article", "dev3", "ax"),
}
# The second field is the file's part: the draw a PubMedQA gold_doc must come from. dev2 is dev
# (tuned on), written later than the dev/test split and over abstracts of its own; test2 is a second
# frozen test set (never tuned on), written later still, over abstracts of a third draw; test3 a
# third one (session 4), over a fourth draw; test4 a fourth one (session 5), over a fifth draw;
# test5 a fifth one (session 7), over a sixth draw.
# dev3 is dev again (session 7), article only, no draw of its own.
# The parts written after the split: checked against every other file.
LATER = ("dev2", "test2", "test3", "test4", "test5", "dev3")
DRAWN = ("dev2", "test2", "test3", "test4", "test5")  # the later parts with a PubMedQA draw
KINDS = {
    "article": {
        "fact", "paraphrase", "keyword", "yesno", "comparison", "list", "spread", "abbreviation",
        "patient", "non-native", "long", "typo", "followup-user", "followup-chat", "oos-near",
        "oos-far", "unreadable",
    },
    "pubmed": {"fact", "number", "method", "population", "paraphrase", "keyword", "patient", "oos"},
}  # fmt: skip
# Two questions whose word sets overlap this much (Jaccard) are one question reworded a little:
# a dev question that close to a test question would leak the test split into tuning.
NEAR = 0.65
NEAR_MIN_WORDS = 4
FIELDS = {
    "id": str,
    "kind": str,
    "question": str,
    "gold": list,
    "gold_all": bool,
    "gold_doc": list,
    "history": list,
    "expect_abstain": bool,
    "expect_unreadable": bool,
    "absent_terms": list,
}
MIN_ARTICLE_TEST = 160
_MARKER = re.compile(r" ?\[\d+\]")

Record = dict[str, Any]


def norm(text: str) -> str:
    """Lower case, single spaces: how gold phrases are matched against documents."""
    return " ".join(text.lower().split())


def question_key(rec: Record) -> str:
    """What makes two questions the same: the words of the question and of the user's turns."""
    turns = [t.get("content", "") for t in rec.get("history", []) if t.get("role") == "user"]
    return " | ".join(
        re.sub(r"[^a-z0-9α]+", " ", norm(s)).strip() for s in [*turns, rec["question"]]
    )


def near_repeat(a: str, b: str) -> bool:
    """Two question keys that share nearly all their words (see ``NEAR``)."""
    wa, wb = set(a.split()), set(b.split())
    if min(len(wa), len(wb)) < NEAR_MIN_WORDS:
        return False
    return len(wa & wb) / len(wa | wb) >= NEAR


def article_body(text: str) -> str:
    """The article's sentences: no YAML front matter (its note is not document text) and no
    headings (an answer quotes sentences, so a gold phrase only a heading holds could not count)."""
    if text.startswith("---"):
        text = text.split("---", 2)[2]
    return "\n".join(norm(line) for line in text.splitlines() if not line.startswith("#"))


def abstracts(data: dict[str, Any]) -> dict[str, str]:
    """``<pmid>.md`` -> its paragraphs, normalised, one a line (as ``bench/_common.py`` writes)."""
    return {f"{p}.md": "\n".join(norm(c) for c in e["CONTEXTS"]) for p, e in data.items()}


def read_jsonl(path: Path) -> tuple[list[Record], list[str]]:
    records, problems = [], []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            problems.append(f"{path.name}:{n}: blank line")
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as exc:
            problems.append(f"{path.name}:{n}: not JSON ({exc})")
            continue
        if not isinstance(rec, dict):
            problems.append(f"{path.name}:{n}: not a JSON object")
            continue
        records.append(rec)
    return records, problems


@dataclass
class Context:
    """What the record checks compare against."""

    article: str
    docs: dict[str, str] | None = None  # None: PubMedQA data not available
    draw: dict[str, list[str]] = field(default_factory=dict)


def record_problems(rec: Record, corpus: str, split: str, prefix: str, ctx: Context) -> list[str]:
    """Everything wrong with one record of ``corpus`` (``article``/``pubmed``) in ``split``."""
    rid = rec.get("id", "?")
    out = [f"{rid}: unknown field {k!r}" for k in rec if k not in FIELDS]
    out += [
        f"{rid}: {k} must be {t.__name__}"
        for k, t in FIELDS.items()
        if k in rec and not isinstance(rec[k], t)
    ]
    if out:
        return out
    for key in ("id", "kind", "question"):
        if not rec.get(key, "").strip():
            out.append(f"{rid}: {key} missing or empty")
    if not re.fullmatch(rf"{prefix}-\d{{3}}", rid):
        out.append(f"{rid}: id must look like {prefix}-001")
    if rec.get("kind") and rec["kind"] not in KINDS.get(corpus, set()):
        out.append(f"{rid}: unknown kind {rec['kind']!r} for {corpus}")
    gold = rec.get("gold", [])
    abstain = rec.get("expect_abstain", False)
    if abstain and (gold or rec.get("gold_doc") or rec.get("gold_all")):
        out.append(f"{rid}: out-of-scope record with gold")
    if not abstain and not gold:
        out.append(f"{rid}: in-scope record without gold phrases")
    if any(not isinstance(g, str) or not g.strip() for g in gold):
        out.append(f"{rid}: empty or non-string gold phrase")
    out += _history_problems(rid, rec.get("history", []), ctx.article)
    if corpus == "article":
        for key in ("gold_doc", "absent_terms"):
            if key in rec:
                out.append(f"{rid}: {key} is for PubMedQA questions")
        out += [f"{rid}: gold {g!r} not in the article" for g in gold if norm(g) not in ctx.article]
    else:
        if "expect_unreadable" in rec:
            out.append(f"{rid}: expect_unreadable is for the article")
        out += _pubmed_problems(rid, rec, split, ctx)
    return out


def _history_problems(rid: str, history: list[Any], article: str) -> list[str]:
    out = []
    for n, turn in enumerate(history):
        if not isinstance(turn, dict) or set(turn) != {"role", "content"}:
            out.append(f"{rid}: history[{n}] must be {{'role', 'content'}}")
            continue
        if turn["role"] not in ("user", "assistant") or not str(turn["content"]).strip():
            out.append(f"{rid}: history[{n}] has a bad role or empty content")
        elif turn["role"] == "assistant":
            quotes = [q for q in _MARKER.split(turn["content"]) if q.strip()]
            out += [
                f"{rid}: history[{n}] quotes {q[:40]!r}..., not verbatim in the article"
                for q in quotes
                if norm(q) not in article
            ]
    return out


def _pubmed_problems(rid: str, rec: Record, split: str, ctx: Context) -> list[str]:
    out = []
    docs = rec.get("gold_doc", [])
    if rec.get("expect_abstain"):
        if not rec.get("absent_terms"):
            out.append(f"{rid}: out-of-scope PubMedQA question without absent_terms")
    elif len(docs) != 1:
        out.append(f"{rid}: needs exactly one gold_doc")
    elif docs[0].removesuffix(".md") not in ctx.draw.get(split, []):
        out.append(f"{rid}: gold_doc {docs[0]} is not an abstract drawn for {split}")
    if ctx.docs is None:
        return out
    for doc in docs:
        text = ctx.docs.get(doc, "")
        out += [
            f"{rid}: gold {g!r} not in {doc}" for g in rec.get("gold", []) if norm(g) not in text
        ]
    for term in rec.get("absent_terms", []):
        pattern = re.compile(rf"(?<![a-z0-9]){re.escape(norm(term))}")
        found = [d for d, text in ctx.docs.items() if pattern.search(text)]
        if found:
            out.append(f"{rid}: absent term {term!r} occurs in {', '.join(sorted(found)[:3])}")
    return out


def set_problems(
    files: dict[str, list[Record]], old_dev: Iterable[Record], draw: dict[str, list[str]]
) -> list[str]:
    """Checks across files: unique ids and questions, test apart from dev, kinds, sizes."""
    out = []
    seen_ids: set[str] = set()
    seen_q: dict[str, str] = {}
    for name, records in files.items():
        for rec in records:
            rid = rec.get("id", "?")
            if rid in seen_ids:
                out.append(f"{name}: duplicate id {rid}")
            seen_ids.add(rid)
            key = question_key(rec)
            if key in seen_q:
                out.append(f"{name}: {rid} repeats {seen_q[key]}")
            seen_q.setdefault(key, rid)
    old = {question_key(r): r.get("id", "?") for r in old_dev}
    for name, records in files.items():
        if FILES[name][1] in ("test", *LATER):
            out += [
                f"{name}: {r['id']} repeats dev question {old[question_key(r)]}"
                for r in records
                if question_key(r) in old
            ]
    out += _near_repeats(files, old)
    for corpus in ("article", "pubmed"):
        kinds = {
            split: {r.get("kind") for r in files.get(f"{corpus}.{split}.jsonl", [])}
            for split in ("dev", "test")
        }
        if kinds["dev"] != kinds["test"]:
            out.append(f"{corpus}: kinds differ between splits: {kinds['dev'] ^ kinds['test']}")
        for part in LATER:
            later = files.get(f"{corpus}.{part}.jsonl")
            if later is not None and {r.get("kind") for r in later} != kinds["test"]:
                missing = kinds["test"] ^ {r.get("kind") for r in later}
                out.append(f"{corpus}.{part}.jsonl: kinds differ from the test split's: {missing}")
    asked: dict[str, int] = {}
    for name in (f"pubmed.{part}.jsonl" for part in ("dev", "test", *LATER)):
        for rec in files.get(name, []):
            for doc in rec.get("gold_doc", []):
                asked[doc] = asked.get(doc, 0) + 1
    drawn = [f"{p}.md" for part in ("dev", "test", *LATER) for p in draw.get(part, [])]
    before = set(draw.get("dev", [])) | set(draw.get("test", []))
    later_draws = (
        ("dev2", "pubmed.draw2.json"),
        ("test2", "pubmed.draw3.json"),
        ("test3", "pubmed.draw4.json"),
        ("test4", "pubmed.draw5.json"),
        ("test5", "pubmed.draw6.json"),
    )
    for part, draw_file in later_draws:
        overlap = set(draw.get(part, [])) & before
        if overlap:
            out.append(f"{draw_file}: abstracts drawn before: {', '.join(sorted(overlap))}")
        before |= set(draw.get(part, []))
    out += [f"pubmed: fewer than 2 questions on {d}" for d in drawn if asked.get(d, 0) < 2]
    if len(files.get("article.test.jsonl", [])) < MIN_ARTICLE_TEST:
        out.append(f"article.test.jsonl: fewer than {MIN_ARTICLE_TEST} questions")
    return out


def _near_repeats(files: dict[str, list[Record]], old: dict[str, str]) -> list[str]:
    """A question of a later file (dev2, test2, ..., test5) that nearly repeats one of any other
    file (ids only: the other question's text is not shown, so a test question is not read by
    whoever fixes it)."""
    out = []
    for name, records in files.items():
        if FILES[name][1] not in LATER:
            continue
        others = [(key, rid) for key, rid in old.items()]
        for other_name, other_records in files.items():
            if other_name != name:
                others += [(question_key(r), r.get("id", "?")) for r in other_records]
        for rec in records:
            key = question_key(rec)
            out += [
                f"{name}: {rec.get('id', '?')} nearly repeats {rid}"
                for other, rid in others
                if other != key and near_repeat(key, other)
            ]
    return out


def load_context(shared: Path | None = PUBMEDQA) -> Context:
    draw = json.loads((HERE / "pubmed.draw.json").read_text(encoding="utf-8"))
    # pubmed.draw2.json holds the dev2 draw, draw3 test2's, draw4 test3's, draw5 test4's, draw6
    # test5's
    later: dict[str, dict[str, list[str]]] = {}
    for n, part in enumerate(DRAWN, 2):
        draw_file = HERE / f"pubmed.draw{n}.json"
        if draw_file.is_file():
            later[part] = json.loads(draw_file.read_text(encoding="utf-8"))
    docs = None
    if shared is not None and shared.is_file():
        docs = abstracts(json.loads(shared.read_text(encoding="utf-8")))
    article = article_body(ARTICLE.read_text(encoding="utf-8"))
    draws = {
        "dev": draw["dev"],
        "test": draw["test"],
        **{part: later.get(part, {}).get(part, []) for part in DRAWN},
    }
    return Context(article=article, docs=docs, draw=draws)


def load_files() -> tuple[dict[str, list[Record]], list[str]]:
    files, problems = {}, []
    for name in FILES:
        if not (HERE / name).is_file() and FILES[name][1] in LATER:
            continue  # not written yet
        records, bad = read_jsonl(HERE / name)
        files[name] = records
        problems += bad
    return files, problems


def load_old_dev() -> list[Record]:
    return [rec for path in OLD_DEV for rec in read_jsonl(path)[0]]


def split_problems() -> list[str]:
    """``split.py`` must make exactly the committed files from the pools."""
    sys.path.insert(0, str(HERE))
    try:
        import split
    finally:
        sys.path.remove(str(HERE))
    return [
        f"{name}: differs from what split.py makes from the pools"
        for name, text in split.build().items()
        if (HERE / name).read_text(encoding="utf-8") != text
    ]


def file_problems(name: str, records: list[Record], ctx: Context) -> list[str]:
    """Every record problem of one of the question files."""
    corpus, split, prefix = FILES[name]
    return [f"{name}: {p}" for r in records for p in record_problems(r, corpus, split, prefix, ctx)]


def all_problems(ctx: Context) -> list[str]:
    files, problems = load_files()
    for name, records in files.items():
        problems += file_problems(name, records, ctx)
    problems += set_problems(files, load_old_dev(), ctx.draw)
    problems += split_problems()
    return problems


def main() -> int:
    ctx = load_context()
    problems = all_problems(ctx)
    if ctx.docs is None:
        problems.append(f"PubMedQA data not found at {PUBMEDQA}: abstract checks not run")
    for p in problems:
        sys.stderr.write(p + "\n")
    if problems:
        return 1
    files, _ = load_files()
    for name, records in files.items():
        kinds: dict[str, int] = {}
        for r in records:
            kinds[r["kind"]] = kinds.get(r["kind"], 0) + 1
        summary = ", ".join(f"{k} {n}" for k, n in sorted(kinds.items()))
        sys.stdout.write(f"{name}: {len(records)} questions ({summary})\n")
    sys.stdout.write("ok\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
