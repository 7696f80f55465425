/* Helpers shared by the page scripts (ES module).
 *
 * Security rule for every script: text from users, documents or the server goes into the page
 * with textContent / createTextNode only — never innerHTML, insertAdjacentHTML, outerHTML,
 * document.write or HTML strings. The pages run under a strict CSP (no inline scripts or
 * styles), so no inline handlers or style attributes either (CSSOM properties are fine).
 */

/** The element with this id. */
export const $ = (id) => document.getElementById(id);

/** An element with an optional class and text. */
export function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

export function textNode(text) {
  return document.createTextNode(String(text));
}

export function clear(node) {
  while (node.firstChild) node.removeChild(node.firstChild);
}

export function button(className, text, label) {
  const node = el("button", className, text);
  node.type = "button";
  if (label) node.setAttribute("aria-label", label);
  return node;
}

export function plural(n, one, many) {
  return n.toLocaleString() + " " + (n === 1 ? one : many);
}

export function isFiniteNumber(x) {
  return typeof x === "number" && Number.isFinite(x);
}

/** A value the server put on <body data-…>: constants live there, not in the scripts. */
export function setting(name, fallback) {
  const value = document.body.dataset[name];
  return value === undefined || value === "" ? fallback : value;
}

export function numberSetting(name, fallback) {
  const value = Number(setting(name, ""));
  return Number.isFinite(value) && setting(name, "") !== "" ? value : fallback;
}

/** The server's `detail`: a sentence, or FastAPI's list of validation errors. */
export function detailText(data) {
  if (!data) return "";
  const detail = data.detail;
  if (typeof detail === "string") return detail;
  if (Array.isArray(detail)) {
    return detail.map((d) => (d && typeof d.msg === "string" ? d.msg : "")).filter(Boolean).join("; ");
  }
  return "";
}

/** fetch, then the body as JSON (null when empty or not JSON): {ok, status, data, detail,
 * text (the body as it came), response}. Network failures reject, as fetch does. */
export async function fetchJson(url, options = {}) {
  const response = await fetch(url, {
    credentials: "same-origin",
    ...options,
    headers: { Accept: "application/json", ...(options.headers || {}) },
  });
  const raw = await response.text().catch(() => "");
  let data = null;
  if (raw) {
    try {
      data = JSON.parse(raw);
    } catch (e) {
      data = null;
    }
  }
  const detail = detailText(data) || "The server answered " + response.status + ".";
  return { ok: response.ok, status: response.status, data, detail, text: raw, response };
}

/** The document reader's URL for a span of a document (offsets as in `sentences`). */
export function readUrl(docId, start, end) {
  const path = String(docId).split("/").map(encodeURIComponent).join("/");
  const query = isFiniteNumber(start) && isFiniteNumber(end) ? "?start=" + start + "&end=" + end : "";
  return "/read/" + path + query;
}

/** A date and time in the reader's locale (seconds or an ISO string). */
export function formatDate(value) {
  const date = typeof value === "number" ? new Date(value * 1000) : new Date(String(value));
  if (Number.isNaN(date.getTime())) return "—";
  return date.toLocaleDateString(undefined, { year: "numeric", month: "short", day: "numeric" }) +
    " " + date.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" });
}

/** Text a person reads aloud: [n] markers become nothing, spaces are tidied. */
export function withoutMarkers(text) {
  return String(text || "").replace(/\s*\[\d{1,4}\]/g, "").replace(/\s+/g, " ").trim();
}

/** Code-point slice (the server's offsets are Python string indices, not UTF-16 units). */
export function slice(text, start, end) {
  return Array.from(String(text || "")).slice(start, end).join("");
}

/** Keep Tab inside `container` (a modal dialog or sheet): from the last focusable element to
 * the first and back. Returns the keydown handler so it can be removed. */
export function trapFocus(container) {
  const handler = (event) => {
    if (event.key !== "Tab") return;
    const items = Array.from(
      container.querySelectorAll("a[href], button:not([disabled]), textarea, input, select, summary, [tabindex='0']"),
    ).filter((node) => node.offsetParent !== null || node === document.activeElement);
    if (!items.length) return;
    const first = items[0];
    const last = items[items.length - 1];
    const inside = container.contains(document.activeElement);
    if (event.shiftKey && (document.activeElement === first || !inside)) {
      event.preventDefault();
      last.focus();
    } else if (!event.shiftKey && (document.activeElement === last || !inside)) {
      event.preventDefault();
      first.focus();
    }
  };
  document.addEventListener("keydown", handler);
  return handler;
}
