/* mscqa chat page: conversations (kept in this browser), answers with their sources, the
 * passage panel, the index status. Text only, strict CSP: see common.js. */

import {
  $, button, clear, el, fetchJson, numberSetting, plural, setting, textNode, trapFocus, withoutMarkers,
} from "./common.js";
import { ConversationStore, historyBefore, newConversation, titleOf } from "./conversations.js";
import { answerMarkdown, renderAnswer } from "./answer.js";
import { CitePreview, PassagePanel } from "./passage.js";

const HISTORY_MESSAGES = Math.min(10, numberSetting("maxHistoryTurns", 10)); // sent with a follow-up
const HEALTH_EVERY_MS = 15000; // the status line follows the server: rebuilds, restarts, outages
const HEALTH_RETRY_MS = 3000;
const UNDO_MS = 10000;

const ASK_URL = setting("askUrl", "/ask");
const HEALTH_URL = setting("healthUrl", "/health");
const FEEDBACK_URL = setting("feedbackUrl", ""); // empty: the server keeps no feedback
const NOT_FOUND = setting("notFound", "");
const MIN_CONFIDENCE = numberSetting("minConfidence", 0.5);
const MAX_CHARS = numberSetting("maxQuestionChars", 2000);

const form = $("ask-form");
const input = $("question");
const counter = $("ask-count");
const busyNote = $("ask-busy");
const conversationBox = $("conversation");
const welcome = $("welcome");
const statusLine = $("status");
const announcer = $("announcer");
const historyNav = $("history");
const historyList = $("history-list");
const historyEmpty = $("history-empty");
const historyToggle = $("history-toggle");
const toast = $("toast");

const store = new ConversationStore();
const preview = new CitePreview($("cite-preview"));
const passage = new PassagePanel($("passage"), {
  backdrop: $("backdrop"),
  background: [document.querySelector(".site-header"), $("main"), historyNav],
  onClose: (opener) => (opener || input).focus(),
});

let conversation = (store.currentId && store.get(store.currentId)) || newConversation();
let busy = false;
let generation = 0; // bumped when the conversation changes, so late answers are dropped
let controller = null;
let drawerTrap = null;
let undo = null;

/* ---------- announcements (one live region; the conversation itself is not live) ---------- */

function announce(text) {
  announcer.textContent = "";
  window.setTimeout(() => { announcer.textContent = text; }, 50);
}

/* ---------- the index status, kept current ---------- */

let healthTimer = 0;
let knownVersion = null;

function setStatus(text, state, title) {
  statusLine.textContent = text;
  statusLine.className = "status" + (state ? " status-" + state : "");
  statusLine.title = title || "";
}

async function checkHealth() {
  window.clearTimeout(healthTimer);
  let next = HEALTH_EVERY_MS;
  try {
    const r = await fetchJson(HEALTH_URL, { cache: "no-store" });
    const index = r.data && r.data.index;
    if (r.ok && index) {
      const changed = knownVersion !== null && index.version !== knownVersion;
      knownVersion = index.version;
      setStatus("Indexed: " + plural(Number(index.documents) || 0, "document", "documents") + ", " +
        plural(Number(index.chunks) || 0, "passage", "passages") + (changed ? " (just updated)" : ""),
      "ok", "Index version " + index.version);
    } else if (r.status === 503) {
      setStatus(r.data && /loading/i.test(r.detail) ? "The document index is loading…" : "Document index unavailable",
        r.data && /loading/i.test(r.detail) ? "loading" : "bad", r.detail);
      next = HEALTH_RETRY_MS;
    } else {
      setStatus("Document index unavailable", "bad", r.detail);
      next = HEALTH_RETRY_MS;
    }
  } catch (e) {
    setStatus("Cannot reach the server", "bad");
    next = HEALTH_RETRY_MS;
  }
  if (!document.hidden) healthTimer = window.setTimeout(checkHealth, next);
}

document.addEventListener("visibilitychange", () => { if (!document.hidden) checkHealth(); });
window.addEventListener("online", checkHealth);

/* ---------- the conversation list ---------- */

function renderHistory() {
  const all = store.list();
  clear(historyList);
  historyEmpty.hidden = all.length > 0;
  all.forEach((c) => {
    const item = el("li", "history-item");
    const title = titleOf(c);
    const open = button("history-open");
    if (c.id === conversation.id) open.setAttribute("aria-current", "true");
    open.appendChild(el("span", "history-title", title));
    open.appendChild(el("span", "history-meta",
      new Date(c.updated).toLocaleDateString(undefined, { month: "short", day: "numeric" }) + " · " +
      plural(c.turns.length, "question", "questions")));
    open.addEventListener("click", () => { switchTo(c.id); closeDrawer(false); input.focus(); });
    const del = button("btn btn-icon history-delete", null, "Delete conversation: " + title);
    del.appendChild(el("span", null, "×")).setAttribute("aria-hidden", "true");
    del.addEventListener("click", () => deleteConversation(c.id, item));
    item.appendChild(open);
    item.appendChild(del);
    historyList.appendChild(item);
  });
}

function save() {
  conversation.updated = Date.now();
  const problem = store.save(conversation);
  store.currentId = conversation.id;
  if (problem) showToast(problem, null);
  renderHistory();
}

function switchTo(id) {
  const next = store.get(id);
  if (!next) return;
  stopAsking();
  conversation = next;
  store.currentId = id;
  renderConversation();
  renderHistory();
}

function startNew() {
  stopAsking();
  conversation = newConversation();
  store.currentId = null;
  renderConversation();
  renderHistory();
  input.value = "";
  updateCounter();
  input.focus();
}

function deleteConversation(id, item) {
  const next = item.nextElementSibling || item.previousElementSibling;
  const removed = store.remove(id);
  if (!removed) return;
  if (id === conversation.id) startNew();
  renderHistory();
  const focusTarget = next && historyList.contains(next) ? next.querySelector(".history-open") : null;
  (focusTarget || $("new-conversation")).focus();
  showToast("Conversation “" + titleOf(removed) + "” deleted.", () => {
    store.save(removed);
    renderHistory();
    announce("Conversation restored.");
  });
}

function showToast(text, onUndo) {
  window.clearTimeout(undo && undo.timer);
  $("toast-text").textContent = text;
  $("toast-undo").hidden = !onUndo;
  toast.hidden = false;
  announce(text + (onUndo ? " Select Undo to bring it back." : ""));
  undo = { run: onUndo, timer: window.setTimeout(hideToast, UNDO_MS) };
}

function hideToast() {
  toast.hidden = true;
  undo = null;
}

$("toast-undo").addEventListener("click", () => {
  const run = undo && undo.run;
  hideToast();
  if (run) run();
});

/* The list is a sidebar on wide screens and a modal drawer on narrow ones. */
function openDrawer() {
  historyNav.classList.add("is-open");
  historyNav.setAttribute("role", "dialog");
  historyNav.setAttribute("aria-modal", "true");
  historyToggle.setAttribute("aria-expanded", "true");
  $("backdrop").hidden = false;
  [document.querySelector(".site-header"), $("main")].forEach((n) => { n.inert = true; });
  drawerTrap = trapFocus(historyNav);
  ($("history-list").querySelector("[aria-current]") || $("new-conversation")).focus();
}

function closeDrawer(restoreFocus) {
  if (!historyNav.classList.contains("is-open")) return;
  historyNav.classList.remove("is-open");
  historyNav.removeAttribute("role");
  historyNav.removeAttribute("aria-modal");
  historyToggle.setAttribute("aria-expanded", "false");
  if (!passage.isOpen) $("backdrop").hidden = true;
  [document.querySelector(".site-header"), $("main")].forEach((n) => { n.inert = false; });
  if (drawerTrap) document.removeEventListener("keydown", drawerTrap);
  drawerTrap = null;
  if (restoreFocus) historyToggle.focus();
}

historyToggle.addEventListener("click", () => (historyNav.classList.contains("is-open") ? closeDrawer(true) : openDrawer()));
$("history-close").addEventListener("click", () => closeDrawer(true));
$("backdrop").addEventListener("click", () => closeDrawer(true));
$("new-conversation").addEventListener("click", () => { startNew(); closeDrawer(false); });

/* ---------- turns ---------- */

function userTurn(question) {
  const node = el("article", "turn user");
  node.setAttribute("aria-label", "You asked");
  node.appendChild(el("p", "turn-role", "You"));
  node.appendChild(el("p", "question-text", question));
  return node;
}

function pendingTurn() {
  const node = el("article", "turn pending");
  node.setAttribute("aria-busy", "true");
  const row = el("p", "pending-text");
  row.appendChild(el("span", "spinner"));
  row.appendChild(textNode("Searching the documents…"));
  node.appendChild(el("p", "turn-role", "Assistant"));
  node.appendChild(row);
  return node;
}

function errorTurn(turn, index) {
  const node = el("article", "turn assistant error");
  node.id = "turn-" + index;
  node.setAttribute("aria-label", "Error");
  node.appendChild(el("p", "turn-role", "Assistant"));
  node.appendChild(el("p", "error-badge", "Something went wrong"));
  node.appendChild(el("p", "error-message", turn.error));
  const again = button("btn btn-secondary btn-small", "Try again");
  again.addEventListener("click", () => retry(index));
  node.appendChild(again);
  return node;
}

function assistantTurn(turn, index) {
  if (!turn.response) return errorTurn(turn, index);
  return renderAnswer(turn, index, {
    notFound: NOT_FOUND,
    minConfidence: MIN_CONFIDENCE,
    feedback: !!FEEDBACK_URL,
    open: (citation, opener, kind, span) => passage.open(citation, opener, kind, span),
    preview: (owner, citation, span, delay) => preview.show(owner, citation, span, delay),
    unpreview: (delay) => preview.hide(delay),
    copy: (t, status) => copyAnswer(t, status),
    rate: (rating, comment, ui) => rate(turn, rating, comment, ui),
    retry: () => retry(index),
  });
}

function renderConversation() {
  passage.close(false);
  preview.hide(0);
  clear(conversationBox);
  conversation.turns.forEach((turn, i) => {
    conversationBox.appendChild(userTurn(turn.question));
    conversationBox.appendChild(assistantTurn(turn, i));
  });
  welcome.hidden = conversation.turns.length > 0;
  const last = conversationBox.lastElementChild;
  if (last) last.scrollIntoView({ block: "end" });
}

/* Bring a new turn into view above the sticky question box; a long answer from its start. */
function reveal(node) {
  document.documentElement.style.setProperty("--form-height", form.offsetHeight + "px");
  const room = window.innerHeight - form.offsetHeight - 24;
  const smooth = !window.matchMedia("(prefers-reduced-motion: reduce)").matches;
  node.scrollIntoView({ block: node.offsetHeight > room ? "start" : "nearest", behavior: smooth ? "smooth" : "auto" });
}

/* ---------- asking ---------- */

function questionLength() {
  return Array.from(input.value.trim()).length; // as the server counts it
}

function updateCounter() {
  const n = questionLength();
  const over = n > MAX_CHARS;
  counter.hidden = n < MAX_CHARS * 0.8;
  counter.textContent = over
    ? n.toLocaleString() + " of " + MAX_CHARS.toLocaleString() + " characters: shorten the question by " + (n - MAX_CHARS).toLocaleString()
    : n.toLocaleString() + " of " + MAX_CHARS.toLocaleString() + " characters";
  counter.classList.toggle("is-over", over);
  if (over) input.setAttribute("aria-invalid", "true");
  else input.removeAttribute("aria-invalid");
}

function setBusy(value) {
  busy = value;
  form.setAttribute("aria-busy", value ? "true" : "false");
  document.body.classList.toggle("is-busy", value);
  $("send").setAttribute("aria-disabled", value ? "true" : "false");
  if (!value) busyNote.hidden = true;
}

function stopAsking() {
  generation += 1;
  if (controller) controller.abort();
  controller = null;
  setBusy(false);
}

function errorMessage(r) {
  if (r.status === 429) {
    const wait = parseInt(r.response.headers.get("Retry-After") || "", 10);
    return "Too many questions in a short time. Please wait " +
      (wait > 0 ? plural(wait, "second", "seconds") : "a moment") + " and try again.";
  }
  if (r.status === 503) return r.detail || "The document index is not ready yet. Please try again in a moment.";
  if (r.status === 422) return "The question could not be processed: " + r.detail;
  if (r.status >= 500) return "The server had a problem answering (error " + r.status + "): " + r.detail;
  return r.detail;
}

/** Ask `question` as a new turn, or again in place of turn `index` (retry). */
async function ask(question, index) {
  question = String(question || "").trim();
  if (busy) {
    busyNote.hidden = false;
    announce(busyNote.textContent);
    return;
  }
  if (!question) {
    input.focus();
    return;
  }
  if (Array.from(question).length > MAX_CHARS) {
    updateCounter();
    counter.hidden = false;
    announce(counter.textContent);
    input.focus();
    return;
  }
  const retrying = index !== undefined;
  const at = retrying ? index : conversation.turns.length;
  const gen = generation;
  const payload = { question };
  const history = historyBefore(conversation, at, HISTORY_MESSAGES);
  if (history.length) payload.history = history;

  welcome.hidden = true;
  let anchor;
  if (retrying) {
    anchor = $("turn-" + at);
  } else {
    conversationBox.appendChild(userTurn(question));
  }
  const pending = pendingTurn();
  if (anchor) anchor.replaceWith(pending);
  else conversationBox.appendChild(pending);
  reveal(pending);
  setBusy(true);
  controller = new AbortController();

  const turn = { question, at: Date.now(), response: null, error: null, feedback: null };
  try {
    const r = await fetchJson(ASK_URL, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(payload),
      signal: controller.signal,
    });
    if (gen !== generation) return;
    if (r.ok && r.data && typeof r.data.answer === "string") turn.response = r.data;
    else turn.error = r.ok ? "The server sent an answer this page could not read." : errorMessage(r);
  } catch (err) {
    if (gen !== generation || (err && err.name === "AbortError")) return;
    turn.error = "Could not reach the server. Check that mscqa is running, then try again.";
    checkHealth();
  }
  conversation.turns[at] = turn;
  const node = assistantTurn(turn, at);
  pending.replaceWith(node);
  reveal(node);
  controller = null;
  setBusy(false);
  save();
  if (turn.response) {
    const said = turn.response.answered ? "Answer: " + withoutMarkers(turn.response.answer)
      : "Not found in the documents. " + turn.response.answer;
    announce(said);
    if (!retrying && input.value.trim() === question) {
      input.value = "";
      updateCounter();
    }
  } else {
    announce("Error: " + turn.error);
  }
}

function retry(index) {
  const turn = conversation.turns[index];
  if (turn) ask(turn.question, index);
}

/* ---------- answer actions ---------- */

async function copyAnswer(turn, status) {
  const text = answerMarkdown(turn.question, turn.response, window.location.origin);
  let ok = false;
  try {
    await navigator.clipboard.writeText(text);
    ok = true;
  } catch (e) {
    // No clipboard API (a page not served over HTTPS or localhost): the selection fallback.
    const area = el("textarea", "visually-hidden");
    area.value = text;
    document.body.appendChild(area);
    area.select();
    try {
      ok = document.execCommand("copy");
    } catch (e2) {
      ok = false;
    }
    area.remove();
  }
  status.textContent = ok ? "Copied the answer and its sources." : "Could not copy: select the text instead.";
}

async function rate(turn, rating, comment, ui) {
  const first = comment === null;
  try {
    const r = await fetchJson(FEEDBACK_URL, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ id: turn.response.id, rating, comment }),
    });
    if (!r.ok) {
      ui.status.textContent = r.status === 404
        ? "This answer can no longer be rated (the server no longer has it). Ask again to rate the new answer."
        : "Your rating could not be sent: " + r.detail;
      return;
    }
  } catch (e) {
    ui.status.textContent = "Your rating could not be sent: the server cannot be reached.";
    return;
  }
  turn.feedback = { rating, comment: comment || (turn.feedback && turn.feedback.comment) || null };
  ui.up.setAttribute("aria-pressed", String(rating === "up"));
  ui.down.setAttribute("aria-pressed", String(rating === "down"));
  save();
  if (first) {
    ui.status.textContent = "Thank you: your rating was sent.";
    ui.label.textContent = rating === "up" ? "Anything to add? (optional)" : "What was wrong or missing? (optional)";
    ui.form.hidden = false;
    ui.comment.focus();
  } else {
    ui.form.hidden = true;
    ui.status.textContent = "Thank you: your comment was sent.";
    (rating === "up" ? ui.up : ui.down).focus();
  }
}

/* ---------- wiring ---------- */

form.addEventListener("submit", (event) => {
  event.preventDefault();
  ask(input.value);
});

input.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing && event.keyCode !== 229) {
    event.preventDefault();
    ask(input.value);
  }
});
input.addEventListener("input", updateCounter);

document.querySelectorAll(".example").forEach((example) => {
  example.addEventListener("click", () => {
    if (busy) return ask("");
    input.value = example.textContent.trim();
    ask(input.value);
  });
});

document.addEventListener("keydown", (event) => {
  if (event.key !== "Escape") return;
  if (preview.isOpen) {
    preview.hide(0);
  } else if (historyNav.classList.contains("is-open")) {
    closeDrawer(true);
  } else if (passage.isOpen) {
    passage.close(true);
  } else {
    return;
  }
  event.preventDefault();
});

window.addEventListener("storage", (event) => {
  if (event.key === null || event.key === "mscqa.conversations") renderHistory();
});

if (!store.persistent) {
  $("history-note").textContent = "This browser does not allow saving: conversations last until the page is closed.";
}
renderConversation();
renderHistory();
updateCounter();
checkHealth();
