/* The passage panel (a side panel on wide screens, a modal bottom sheet on phones) and the
 * preview a [n] marker shows on hover or focus. */

import { clear, el, readUrl, slice, textNode, trapFocus } from "./common.js";
import { hasPage, quotedSentences } from "./answer.js";

const PHONE = window.matchMedia("(max-width: 640px)"); // the phone layout of style.css
const CONTEXT_CHARS = 140; // passage text shown around the quoted sentence in a preview

/* Fill `box` with `text`, marking [start, end) ranges (offsets inside `text`). */
function fillMarked(box, text, ranges) {
  clear(box);
  const chars = Array.from(String(text || ""));
  let pos = 0;
  ranges.forEach(([a, b]) => {
    if (a > pos) box.appendChild(textNode(chars.slice(pos, a).join("")));
    box.appendChild(el("mark", "quoted", chars.slice(a, b).join("")));
    pos = b;
  });
  if (pos < chars.length) box.appendChild(textNode(chars.slice(pos).join("")));
}

/* The quoted sentences of a citation as merged ranges inside its passage text. */
function quotedRanges(citation) {
  const base = Number(citation.start) || 0;
  const length = Array.from(String(citation.text || "")).length;
  const ranges = quotedSentences(citation)
    .map((s) => [Math.max(0, s.start - base), Math.min(length, s.end - base)])
    .filter(([a, b]) => b > a)
    .sort((x, y) => x[0] - y[0]);
  const merged = [];
  ranges.forEach((r) => {
    const top = merged[merged.length - 1];
    if (top && r[0] <= top[1]) top[1] = Math.max(top[1], r[1]);
    else merged.push([r[0], r[1]]);
  });
  return merged;
}

export class PassagePanel {
  constructor(root, { backdrop, background, onClose }) {
    this.root = root;
    this.backdrop = backdrop;
    this.background = background; // elements made inert while the phone sheet is open
    this.onClose = onClose;
    this.opener = null;
    this.trap = null;
    this.kind = root.querySelector(".passage-kind");
    this.title = root.querySelector(".passage-title");
    this.section = root.querySelector(".passage-section");
    this.page = root.querySelector(".passage-page");
    this.text = root.querySelector(".passage-text");
    this.note = root.querySelector(".passage-note");
    this.read = root.querySelector(".passage-read");
    root.querySelector(".passage-close").addEventListener("click", () => this.close(true));
    backdrop.addEventListener("click", () => this.close(true));
    PHONE.addEventListener("change", () => this.root.hidden || this.setModal(PHONE.matches));
  }

  get isOpen() {
    return !this.root.hidden;
  }

  /** Show `citation`; `span` ({start, end}: the quoted sentence) is what "Read it in the
   * document" opens at. kind: source | related | closest. */
  open(citation, opener, kind, span) {
    this.setExpanded(false);
    this.opener = opener || null;
    this.kind.textContent = kind === "source" ? "Source " + citation.n
      : kind === "closest" ? "Closest passage · not an answer" : "Related passage";
    this.root.classList.toggle("is-closest", kind === "closest");
    // The section names what the passage is about; the document title (often long and the
    // same for every source) comes second.
    const title = citation.title || citation.doc_id || "Untitled document";
    this.title.textContent = citation.section || title;
    this.section.textContent = citation.section ? title : "";
    this.section.hidden = !citation.section;
    this.page.textContent = hasPage(citation) ? "Page " + citation.page : "";
    this.page.hidden = !hasPage(citation);
    const ranges = kind === "source" ? quotedRanges(citation) : [];
    fillMarked(this.text, citation.text, ranges);
    this.note.textContent = ranges.length
      ? "Highlighted: the sentence" + (ranges.length === 1 ? "" : "s") + " quoted in the answer." : "";
    this.note.hidden = !ranges.length;
    const target = span || { start: citation.start, end: citation.end };
    this.read.href = readUrl(citation.doc_id, target.start, target.end);
    this.read.textContent = span ? "Read it in the document" : "Read this passage in the document";

    this.root.hidden = false;
    document.body.classList.add("has-passage");
    this.setModal(PHONE.matches);
    this.setExpanded(true);
    this.root.scrollTop = 0;
    this.root.focus({ preventScroll: true });
    const mark = this.text.querySelector("mark");
    if (mark) mark.scrollIntoView({ block: "nearest" });
  }

  close(restoreFocus) {
    if (this.root.hidden) return;
    this.root.hidden = true;
    document.body.classList.remove("has-passage");
    this.setModal(false);
    this.setExpanded(false);
    const opener = this.opener;
    this.opener = null;
    if (restoreFocus) this.onClose(opener && document.body.contains(opener) ? opener : null);
  }

  /* On phones the sheet covers the conversation: a backdrop, the rest of the page inert, Tab
   * kept inside. Beside the conversation (wide screens) it is an ordinary region. */
  setModal(modal) {
    this.backdrop.hidden = !modal;
    this.background.forEach((node) => node && (node.inert = modal));
    if (modal) {
      this.root.setAttribute("role", "dialog");
      this.root.setAttribute("aria-modal", "true");
      if (!this.trap) this.trap = trapFocus(this.root);
    } else {
      this.root.setAttribute("role", "region");
      this.root.removeAttribute("aria-modal");
      if (this.trap) document.removeEventListener("keydown", this.trap);
      this.trap = null;
    }
  }

  setExpanded(value) {
    if (this.opener) this.opener.setAttribute("aria-expanded", value ? "true" : "false");
  }
}

/* The hover / focus preview of a marker: its source and the quoted sentence in context.
 * Dismissable (Escape), hoverable (the pointer may move onto it) and persistent while hovered
 * or focused (WCAG 1.4.13). */
export class CitePreview {
  constructor(root) {
    this.root = root;
    this.owner = null;
    this.showTimer = 0;
    this.hideTimer = 0;
    root.addEventListener("mouseenter", () => window.clearTimeout(this.hideTimer));
    root.addEventListener("mouseleave", () => this.hide(150));
    // It follows its marker when the page scrolls (a smooth scroll may still be running).
    window.addEventListener("scroll", () => this.owner && this.place(this.owner), { passive: true });
    window.addEventListener("resize", () => this.hide(0));
  }

  get isOpen() {
    return !this.root.hidden;
  }

  show(owner, citation, span, delay) {
    window.clearTimeout(this.hideTimer);
    window.clearTimeout(this.showTimer);
    this.showTimer = window.setTimeout(() => this.render(owner, citation, span), delay);
  }

  render(owner, citation, span) {
    this.hide(0);
    const root = this.root;
    clear(root);
    const where = [citation.section, citation.title || citation.doc_id].filter(Boolean);
    const head = el("p", "cite-preview-source", "Source " + citation.n + " · " + where[0]);
    root.appendChild(head);
    if (where[1] || hasPage(citation)) {
      root.appendChild(el("p", "cite-preview-doc",
        [where[1], hasPage(citation) ? "page " + citation.page : ""].filter(Boolean).join(" · ")));
    }
    const quote = el("blockquote", "cite-preview-text");
    const base = Number(citation.start) || 0;
    const text = String(citation.text || "");
    if (span) {
      const a = span.start - base;
      const b = span.end - base;
      const from = Math.max(0, a - CONTEXT_CHARS);
      const to = b + CONTEXT_CHARS;
      const before = slice(text, from, a);
      const after = slice(text, b, to);
      if (before) quote.appendChild(textNode((from > 0 ? "… " : "") + before));
      quote.appendChild(el("mark", "quoted", slice(text, a, b)));
      if (after) quote.appendChild(textNode(after + (to < Array.from(text).length ? " …" : "")));
    } else {
      quote.textContent = slice(text, 0, 2 * CONTEXT_CHARS);
    }
    root.appendChild(quote);
    root.appendChild(el("p", "cite-preview-hint", "Select the number to read the whole passage."));
    root.hidden = false;
    this.owner = owner;
    owner.setAttribute("aria-describedby", root.id);
    this.place(owner);
  }

  place(owner) {
    const box = owner.getBoundingClientRect();
    const width = Math.min(360, window.innerWidth - 16);
    this.root.style.width = width + "px";
    const left = Math.max(8, Math.min(box.left + box.width / 2 - width / 2, window.innerWidth - width - 8));
    const height = this.root.offsetHeight;
    const below = box.bottom + 8;
    const top = below + height > window.innerHeight - 8 && box.top - height - 8 > 8
      ? box.top - height - 8 : below;
    this.root.style.left = Math.round(left) + "px";
    this.root.style.top = Math.round(top) + "px";
  }

  hide(delay) {
    window.clearTimeout(this.showTimer);
    window.clearTimeout(this.hideTimer);
    const go = () => {
      if (this.owner) this.owner.removeAttribute("aria-describedby");
      this.owner = null;
      this.root.hidden = true;
    };
    if (delay) this.hideTimer = window.setTimeout(go, delay);
    else go();
  }
}
