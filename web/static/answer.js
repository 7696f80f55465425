/* One assistant turn: the answer with its [n] markers, sources, related passages, actions
 * (copy, rate, retry) and details. Text only (see common.js). */

import { button, el, isFiniteNumber, readUrl, slice, textNode } from "./common.js";

const SNIPPET_CHARS = 200; // a related passage's preview
const QUOTE_WORDS = 7; // words of the quoted sentence that tell two sources apart

/* ---------- what a citation points at ---------- */

export function hasPage(c) {
  return c.page !== null && c.page !== undefined;
}

/** The sentences of `citation` the answer quotes: [{start, end, text}] in document offsets. */
export function quotedSentences(citation) {
  const base = Number(citation.start) || 0;
  const spans = Array.isArray(citation.sentences) ? citation.sentences : [];
  return spans
    .filter((s) => s && isFiniteNumber(s.start) && isFiniteNumber(s.end) && s.end > s.start)
    .map((s) => ({ start: s.start, end: s.end, text: slice(citation.text, s.start - base, s.end - base) }));
}

/** Short label: the section (what differs between passages), else the document title. */
export function shortLabel(c) {
  const label = c.section || c.title || c.doc_id || "Untitled document";
  return hasPage(c) ? label + ", page " + c.page : label;
}

function quoteStart(c) {
  const first = quotedSentences(c)[0];
  const words = String(first ? first.text : c.text || "").trim().split(/\s+/);
  return words.slice(0, QUOTE_WORDS).join(" ") + (words.length > QUOTE_WORDS ? " …" : "");
}

function snippet(text) {
  const chars = Array.from(String(text || "").replace(/\s+/g, " ").trim());
  if (chars.length <= SNIPPET_CHARS) return chars.join("");
  return chars.slice(0, SNIPPET_CHARS).join("").replace(/\s+\S*$/, "") + " …";
}

/** The one title all citations share, or "" when they come from several documents. */
function sharedTitle(citations) {
  const titles = new Set(citations.map((c) => c.title || c.doc_id));
  return titles.size === 1 ? [...titles][0] : "";
}

/* ---------- markdown for the clipboard ---------- */

/** The answer as Markdown: the text with its [n] markers, then the sources with links to the
 * quoted sentence in the document reader. */
export function answerMarkdown(question, data, origin) {
  const lines = ["**" + question.replace(/\s+/g, " ").trim() + "**", "", String(data.answer || "")];
  const cited = Array.isArray(data.citations) ? data.citations : [];
  const related = Array.isArray(data.related) ? data.related : [];
  const list = data.answered ? cited : related;
  if (list.length) {
    lines.push("", data.answered ? "Sources:" : "Closest passages (not an answer):");
    list.forEach((c) => {
      const first = quotedSentences(c)[0];
      const url = origin + (first ? readUrl(c.doc_id, first.start, first.end) : readUrl(c.doc_id, c.start, c.end));
      const where = [c.section, c.title || c.doc_id].filter(Boolean).join(" — ");
      const page = hasPage(c) ? ", page " + c.page : "";
      lines.push((data.answered ? "[" + c.n + "] " : "- ") + where + page + ": <" + url + ">");
    });
  }
  const parts = unreadableParts(data);
  if (parts.length) {
    lines.push("", unreadableNote(parts));
    parts.forEach((u) => {
      const where = [u.section, u.title || u.doc_id].filter(Boolean).join(" — ");
      lines.push("- " + where + ": <" + origin + unreadableUrl(u) + ">");
    });
  }
  return lines.join("\n") + "\n";
}

/* ---------- the turn ---------- */

/**
 * Build the assistant turn for `turn` ({question, response, feedback}).
 * `on`: {open(citation, opener, kind, span), preview(button, citation, span) / unpreview(),
 *        copy(turn, statusNode), rate(rating, comment, ui), retry(), feedback: bool,
 *        minConfidence: number}
 */
export function renderAnswer(turn, index, on) {
  const data = turn.response;
  const answered = data.answered === true;
  const citations = Array.isArray(data.citations) ? data.citations : [];
  const related = Array.isArray(data.related) ? data.related : [];
  const node = el("article", "turn assistant" + (answered ? "" : " not-found"));
  node.id = "turn-" + index;
  node.setAttribute("aria-label", answered ? "Answer" : "Not found in the documents");
  node.appendChild(el("p", "turn-role", "Assistant"));
  if (!answered) node.appendChild(el("p", "not-found-badge", "Not found in the documents"));

  const box = el("div", "answer");
  if (answered) renderMarkers(box, String(data.answer || ""), citations, on);
  else box.textContent = String(data.answer || on.notFound);
  node.appendChild(box);
  renderUnreadable(node, data);

  if (answered) renderSources(node, citations, on);
  renderRelated(node, related, answered, on);
  node.appendChild(renderActions(turn, on));
  node.appendChild(renderDetails(data, on.minConfidence));
  return node;
}

/* The answer text; each known [n] becomes a button that previews and opens its source. */
function renderMarkers(container, answer, citations, on) {
  const byN = new Map(citations.filter((c) => c && isFiniteNumber(c.n)).map((c) => [c.n, c]));
  const re = /\[(\d{1,4})\]/g;
  let last = 0;
  let match;
  while ((match = re.exec(answer)) !== null) {
    const citation = byN.get(parseInt(match[1], 10));
    if (!citation) continue;
    const before = answer.slice(last, match.index);
    if (before) container.appendChild(textNode(before.replace(/[ \t]+$/, "")));
    const said = answer.slice(0, match.index).split(/\[\d{1,4}\]/).pop().trim();
    const sentences = quotedSentences(citation);
    const span = sentences.find((s) => s.text.trim() === said) || sentences[0] || null;
    container.appendChild(citeButton(citation, span, on));
    last = re.lastIndex;
  }
  const rest = answer.slice(last);
  if (rest) container.appendChild(textNode(rest));
}

function citeButton(citation, span, on) {
  const node = button("cite", String(citation.n), "Source " + citation.n + ": " + shortLabel(citation));
  node.setAttribute("data-n", String(citation.n));
  node.setAttribute("aria-controls", "passage");
  node.setAttribute("aria-expanded", "false");
  node.addEventListener("click", () => {
    on.unpreview();
    on.open(citation, node, "source", span);
  });
  node.addEventListener("mouseenter", () => on.preview(node, citation, span, 250));
  node.addEventListener("mouseleave", () => on.unpreview(200));
  node.addEventListener("focus", () => on.preview(node, citation, span, 0));
  node.addEventListener("blur", () => on.unpreview(0));
  return node;
}

/* Parts that match the question but hold no text: an image or a table the loader could not
 * read. Said plainly, with a link to where they sit in the document. */
function unreadableParts(data) {
  return Array.isArray(data.unreadable) ? data.unreadable.filter((u) => u && u.doc_id) : [];
}

function unreadableNote(parts) {
  if (parts.length === 1) return "This part of the document is an image and could not be read:";
  const docs = new Set(parts.map((u) => u.doc_id)).size;
  return "These parts of the " + (docs === 1 ? "document" : "documents") + " are images and could not be read:";
}

function unreadableUrl(u) {
  const span = isFiniteNumber(u.start) && isFiniteNumber(u.end) && u.end > u.start;
  return readUrl(u.doc_id, span ? u.start : undefined, span ? u.end : undefined);
}

function renderUnreadable(node, data) {
  const parts = unreadableParts(data);
  if (!parts.length) return;
  const note = el("div", "unreadable");
  note.appendChild(el("p", "unreadable-title", unreadableNote(parts)));
  const shared = sharedTitle(parts);
  const list = el("ul", "unreadable-list");
  parts.forEach((u) => {
    const item = el("li");
    const link = el("a", null, u.section || u.title || u.doc_id);
    link.href = unreadableUrl(u);
    item.appendChild(link);
    if (!shared) item.appendChild(textNode(" (" + (u.title || u.doc_id) + ")"));
    list.appendChild(item);
  });
  note.appendChild(list);
  note.appendChild(el("p", "unreadable-doc", (shared ? "In “" + shared + "”: a" : "A") +
    "n image or a table there holds what was asked, so it cannot be quoted."));
  node.appendChild(note);
}

/* The passage list: with one document, its title once above the list; each source shows its
 * section and the start of the sentence it gave, so two from one section stay distinct. */
function renderSources(node, citations, on) {
  if (!citations.length) return;
  const wrap = el("div", "sources");
  wrap.appendChild(el("h3", "sources-heading", "Sources"));
  const shared = sharedTitle(citations);
  if (shared) wrap.appendChild(el("p", "sources-doc", shared));
  const list = el("ol", "sources-list");
  citations.forEach((c) => {
    const first = quotedSentences(c)[0] || null;
    const item = el("li", "source-item");
    const open = button("source-link");
    open.setAttribute("data-n", String(c.n));
    open.setAttribute("aria-controls", "passage");
    open.setAttribute("aria-expanded", "false");
    open.appendChild(el("span", "source-n", String(c.n)));
    const label = el("span", "source-label");
    label.appendChild(el("span", "source-main", shortLabel(c)));
    label.appendChild(el("span", "source-quote", "“" + quoteStart(c) + "”"));
    if (!shared) label.appendChild(el("span", "source-doc", c.title || c.doc_id));
    open.appendChild(label);
    open.addEventListener("click", () => on.open(c, open, "source", first));
    item.appendChild(open);
    list.appendChild(item);
  });
  wrap.appendChild(list);
  node.appendChild(wrap);
}

function renderRelated(node, related, answered, on) {
  if (!related.length) return;
  const details = el("details", "related");
  details.appendChild(el("summary", "related-summary",
    (answered ? "Related passages" : "Closest passages (not an answer)") + " (" + related.length + ")"));
  if (!answered) {
    details.appendChild(el("p", "related-note",
      "These passages were the nearest matches, but none of them answers the question."));
  }
  const list = el("ul", "related-list");
  related.forEach((c) => {
    const item = el("li", "related-item");
    const open = button("related-open");
    open.appendChild(el("span", "related-main", shortLabel(c)));
    if (c.section) open.appendChild(el("span", "related-doc", c.title || c.doc_id));
    open.setAttribute("aria-controls", "passage");
    open.setAttribute("aria-expanded", "false");
    open.addEventListener("click", () => on.open(c, open, answered ? "related" : "closest", null));
    item.appendChild(open);
    item.appendChild(el("p", "related-snippet", snippet(c.text)));
    list.appendChild(item);
  });
  details.appendChild(list);
  node.appendChild(details);
}

/* Copy, Helpful / Not helpful (with an optional comment), Retry. */
function renderActions(turn, on) {
  const wrap = el("div", "answer-actions-wrap");
  const bar = el("div", "answer-actions");
  bar.setAttribute("role", "group");
  bar.setAttribute("aria-label", "Answer actions");
  const status = el("p", "action-status");
  status.setAttribute("role", "status");

  const copy = button("action action-copy", "Copy");
  copy.addEventListener("click", () => on.copy(turn, status));
  bar.appendChild(copy);

  const form = el("form", "feedback-form");
  form.hidden = true;
  if (on.feedback) {
    const up = button("action action-up", "Helpful");
    const down = button("action action-down", "Not helpful");
    const ui = { up, down, form, status };
    [up, down].forEach((b) => {
      const rating = b === up ? "up" : "down";
      b.setAttribute("aria-pressed", String(!!turn.feedback && turn.feedback.rating === rating));
      b.addEventListener("click", () => on.rate(rating, null, ui));
    });
    bar.appendChild(up);
    bar.appendChild(down);
    buildFeedbackForm(form, turn, on, ui);
  }

  const retry = button("action action-retry", "Retry");
  retry.addEventListener("click", () => on.retry());
  bar.appendChild(retry);

  wrap.appendChild(bar);
  wrap.appendChild(form);
  wrap.appendChild(status);
  return wrap;
}

function buildFeedbackForm(form, turn, on, ui) {
  const id = "comment-" + Math.random().toString(36).slice(2);
  const label = el("label", "field-label", "What was wrong or missing? (optional)");
  label.htmlFor = id;
  const box = el("textarea", "text-input feedback-comment");
  box.id = id;
  box.rows = 2;
  box.maxLength = 2000;
  const row = el("div", "feedback-row");
  const send = el("button", "btn btn-primary btn-small", "Send comment");
  send.type = "submit";
  const skip = button("btn btn-secondary btn-small", "No thanks");
  row.appendChild(send);
  row.appendChild(skip);
  form.appendChild(label);
  form.appendChild(box);
  form.appendChild(row);
  ui.comment = box;
  ui.label = label;
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const rating = turn.feedback ? turn.feedback.rating : "down";
    on.rate(rating, box.value.trim() || null, ui);
  });
  skip.addEventListener("click", () => {
    form.hidden = true;
    (turn.feedback && turn.feedback.rating === "up" ? ui.up : ui.down).focus();
  });
}

/* Developer metadata, out of the way: confidence, time, answer id, index version. */
function renderDetails(data, minConfidence) {
  const details = el("details", "answer-details");
  details.appendChild(el("summary", "answer-details-summary", "Details"));
  const list = el("dl", "answer-details-list");
  const add = (term, value) => {
    list.appendChild(el("dt", null, term));
    list.appendChild(el("dd", null, value));
  };
  if (isFiniteNumber(data.confidence)) {
    const conf = Math.max(0, Math.min(1, data.confidence)).toFixed(2);
    add("Confidence", conf + " (answers below " + minConfidence.toFixed(2) + " are withheld)");
  }
  if (isFiniteNumber(data.took_ms)) {
    add("Answered in", data.took_ms >= 1000 ? (data.took_ms / 1000).toFixed(1) + " s" : data.took_ms.toFixed(1) + " ms");
  }
  if (data.id) add("Answer id", data.id);
  if (data.index_version) add("Index version", data.index_version);
  details.appendChild(list);
  return details;
}
