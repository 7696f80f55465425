/* mscqa documents page: what is indexed, and curator tools (upload, delete, rebuild, and the
 * report of what users asked that the documents could not answer).
 *
 * Text only, strict CSP: see common.js. The admin token lives in sessionStorage for this tab
 * only and is sent as an Authorization: Bearer header, never in a URL or a cookie.
 */
import { $, button, clear, el, fetchJson, formatDate, numberSetting, plural, readUrl, setting } from "./common.js";

const TOKEN_KEY = "mscqa.adminToken";
const POLL_MS = 600;
const DOCS_URL = setting("documentsUrl", "/documents");
const ADMIN_URL = setting("adminUrl", "/admin");
// What the server accepts (its upload route's file types and MSCQA_MAX_UPLOAD_MB): a file it
// would refuse is refused here, before a large upload is sent for nothing.
const UPLOAD_SUFFIXES = setting("uploadSuffixes", "").split(/\s+/).filter(Boolean);
const MAX_UPLOAD_MB = numberSetting("maxUploadMb", 0);
const REPORT_LIMIT = numberSetting("reportLimit", 50);

const table = $("docs-table");
const tbody = $("docs-body");
const docsMessage = $("docs-message");
const tokenForm = $("token-form");
const tokenInput = $("admin-token");
const tokenMessage = $("token-message");
const tools = $("admin-tools");
const uploadForm = $("upload-form");
const uploadMessage = $("upload-message");
const rebuildButton = $("rebuild");
const jobBox = $("job");
const jobProgress = $("job-progress");
const jobMessage = $("job-message");
const jobSkipped = $("job-skipped");

let pollTimer = null;

/* ---------- helpers ---------- */

function say(node, text, state) {
  node.textContent = text || "";
  node.className = "form-message" + (state ? " form-message-" + state : "");
}

function getToken() {
  try {
    return window.sessionStorage.getItem(TOKEN_KEY) || "";
  } catch (e) {
    return "";
  }
}

function setToken(value) {
  try {
    if (value) window.sessionStorage.setItem(TOKEN_KEY, value);
    else window.sessionStorage.removeItem(TOKEN_KEY);
  } catch (e) {
    /* storage disabled: the token is simply not remembered */
  }
}

function authHeaders() {
  return { Authorization: "Bearer " + getToken() };
}

/* An admin route with the token: {ok, status, data, detail}. A refused token (401/403)
 * takes the page back to the token form with the server's reason. */
async function admin(method, path, body) {
  const r = await fetchJson(ADMIN_URL + path, {
    method,
    headers: authHeaders(),
    body: body || null,
    credentials: "omit",
    cache: "no-store",
  });
  if (r.status === 401 || r.status === 403) lockTools(r.detail);
  return r;
}

/* ---------- the document list ---------- */

async function loadDocuments() {
  docsMessage.textContent = "Loading the document list…";
  try {
    const r = await fetchJson(DOCS_URL, { cache: "no-store" });
    if (!r.ok || !r.data || !Array.isArray(r.data.documents)) throw new Error(r.detail);
    renderDocuments(r.data.documents);
  } catch (err) {
    table.hidden = true;
    docsMessage.textContent = "Could not load the document list: " + err.message;
  }
}

function renderDocuments(docs) {
  docs.sort((a, b) => String(a.title || a.doc_id).localeCompare(String(b.title || b.doc_id)));
  clear(tbody);
  docs.forEach((doc) => tbody.appendChild(documentRow(doc)));
  table.hidden = docs.length === 0;
  const chunks = docs.reduce((n, d) => n + (d.chunks || 0), 0);
  docsMessage.textContent = docs.length === 0
    ? "No documents are indexed yet."
    : plural(docs.length, "document", "documents") + ", " + plural(chunks, "passage", "passages") +
      " in the serving index.";
  showAdminColumn(!!getToken());
}

function cell(label, className) {
  const td = el("td", className);
  td.setAttribute("data-label", label);
  return td;
}

function documentRow(doc) {
  const tr = el("tr");
  const title = cell("Title", "doc-title");
  const link = el("a", "doc-name", doc.title || doc.doc_id);
  link.href = readUrl(doc.doc_id);
  title.appendChild(link);
  title.appendChild(el("span", "doc-id", doc.doc_id));
  tr.appendChild(title);
  tr.appendChild(cell("Type")).textContent = String(doc.format || "").toUpperCase();
  tr.appendChild(cell("Passages", "doc-num")).textContent = String(doc.chunks);
  const modified = cell("Modified");
  modified.textContent = formatDate(doc.modified);
  if (doc.date) modified.appendChild(el("span", "doc-id", "Dated " + doc.date));
  tr.appendChild(modified);
  const actions = cell("Actions", "admin-col");
  actions.hidden = !getToken();
  actions.appendChild(deleteControl(doc));
  tr.appendChild(actions);
  return tr;
}

function deleteControl(doc) {
  const box = el("div", "delete-box");
  const start = button("btn btn-secondary btn-small", "Delete", "Delete " + doc.doc_id);
  box.appendChild(start);
  start.addEventListener("click", () => {
    clear(box);
    const yes = button("btn btn-danger btn-small", "Yes, delete");
    const no = button("btn btn-secondary btn-small", "Cancel");
    box.appendChild(el("span", "delete-question", "Delete the file " + doc.doc_id + "?"));
    box.appendChild(yes);
    box.appendChild(no);
    no.focus();
    no.addEventListener("click", () => {
      clear(box);
      box.appendChild(start);
      start.focus();
    });
    yes.addEventListener("click", async () => {
      yes.disabled = no.disabled = true;
      const path = doc.doc_id.split("/").map(encodeURIComponent).join("/");
      let message;
      let again = false;
      try {
        const r = await admin("DELETE", "/documents/" + path);
        message = r.ok ? "Deleted. Rebuild the index to stop answering from it." : r.detail;
        again = !r.ok && r.status !== 404;
      } catch (e) {
        message = "The server could not be reached.";
        again = true;
      }
      clear(box);
      box.appendChild(el("span", again ? "delete-question" : "delete-done", message));
      if (again) box.appendChild(start);
    });
  });
  return box;
}

function showAdminColumn(show) {
  table.querySelectorAll(".admin-col").forEach((node) => { node.hidden = !show; });
}

/* ---------- token ---------- */

function unlockTools() {
  tokenForm.hidden = true;
  tools.hidden = false;
  showAdminColumn(true);
  loadReports();
}

function lockTools(reason) {
  setToken("");
  stopPolling();
  tools.hidden = true;
  tokenForm.hidden = false;
  showAdminColumn(false);
  say(tokenMessage, reason || "", reason ? "bad" : "");
}

tokenForm.addEventListener("submit", (event) => {
  event.preventDefault();
  const value = tokenInput.value.trim();
  if (!value) {
    say(tokenMessage, "Paste the admin token first.", "bad");
    tokenInput.focus();
    return;
  }
  setToken(value);
  tokenInput.value = "";
  say(tokenMessage, "Checking the token…");
  checkToken(true);
});

// Any admin call verifies the token; listing jobs also finds a rebuild already running.
async function checkToken(focusTools) {
  let r;
  try {
    r = await admin("GET", "/jobs");
  } catch (e) {
    say(tokenMessage, "The server could not be reached.", "bad");
    return;
  }
  if (!r.ok) {
    if (r.status !== 401 && r.status !== 403) say(tokenMessage, r.detail, "bad");
    return;
  }
  say(tokenMessage, "");
  unlockTools();
  if (focusTools) $("forget-token").focus();
  const running = ((r.data && r.data.jobs) || []).find((j) => j.state === "queued" || j.state === "running");
  if (running) follow(running.job_id);
}

$("forget-token").addEventListener("click", () => {
  lockTools("");
  tokenInput.focus();
});

/* ---------- upload ---------- */

uploadForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  const file = $("upload-file").files && $("upload-file").files[0];
  if (!file) {
    say(uploadMessage, "Choose a file first.", "bad");
    $("upload-file").focus();
    return;
  }
  const problem = uploadProblem(file);
  if (problem) {
    say(uploadMessage, problem, "bad");
    $("upload-file").focus();
    return;
  }
  const data = new FormData();
  data.append("file", file, file.name);
  const query = $("upload-replace").checked ? "?replace=true" : "";
  $("upload-button").disabled = true;
  say(uploadMessage, "Uploading " + file.name + "…");
  try {
    const r = await admin("POST", "/documents" + query, data);
    if (r.status === 201) {
      say(uploadMessage, (r.data.replaced ? "Replaced " : "Stored ") + r.data.file +
        ". Rebuild the index to answer from it.", "ok");
      uploadForm.reset();
    } else if (r.status === 200) {
      say(uploadMessage, r.data.file + " is already in the corpus with the same content.", "ok");
    } else {
      say(uploadMessage, r.detail, "bad");
    }
  } catch (e) {
    say(uploadMessage, "The upload failed: the server could not be reached.", "bad");
  }
  $("upload-button").disabled = false;
});

/** Why the server would refuse `file`, in its words; "" when it would take it. */
function uploadProblem(file) {
  const dot = file.name.lastIndexOf(".");
  const suffix = dot > 0 ? file.name.slice(dot).toLowerCase() : "";
  if (UPLOAD_SUFFIXES.length && !UPLOAD_SUFFIXES.includes(suffix)) {
    return file.name + " is not a supported document type; upload one of: " + UPLOAD_SUFFIXES.join(" ") + ".";
  }
  if (MAX_UPLOAD_MB > 0 && file.size > MAX_UPLOAD_MB * 1024 * 1024) {
    return file.name + " is " + (file.size / (1024 * 1024)).toFixed(1) + " MB, larger than the " +
      MAX_UPLOAD_MB + " MB upload limit (MSCQA_MAX_UPLOAD_MB).";
  }
  return "";
}

/* ---------- rebuild ---------- */

rebuildButton.addEventListener("click", async () => {
  rebuildButton.disabled = true;
  try {
    const r = await admin("POST", "/reindex");
    if ((r.status === 202 || r.status === 409) && r.data && r.data.job_id) {
      if (r.status === 409) say(jobMessage, "A rebuild is already running; following it.");
      follow(r.data.job_id);
      return;
    }
    say(jobMessage, r.detail, "bad");
  } catch (e) {
    say(jobMessage, "The server could not be reached.", "bad");
  }
  rebuildButton.disabled = false;
  jobBox.hidden = false;
});

function stopPolling() {
  if (pollTimer !== null) window.clearTimeout(pollTimer);
  pollTimer = null;
}

function follow(jobId) {
  stopPolling();
  rebuildButton.disabled = true;
  jobBox.hidden = false;
  jobProgress.value = 0;
  clear(jobSkipped);
  say(jobMessage, "Rebuild queued…");
  poll(jobId);
}

async function poll(jobId) {
  let r;
  try {
    r = await admin("GET", "/jobs/" + encodeURIComponent(jobId));
  } catch (e) {
    pollTimer = window.setTimeout(() => poll(jobId), POLL_MS * 3);
    return;
  }
  if (!r.ok) {
    rebuildButton.disabled = false;
    if (r.status !== 401 && r.status !== 403) say(jobMessage, r.detail, "bad");
    return;
  }
  showJob(r.data);
  if (r.data.state === "queued" || r.data.state === "running") {
    pollTimer = window.setTimeout(() => poll(jobId), POLL_MS);
  } else {
    rebuildButton.disabled = false;
    if (r.data.state === "done") loadDocuments();
  }
}

function showJob(job) {
  const progress = typeof job.progress === "number" ? job.progress : 0;
  jobProgress.value = progress;
  const percent = Math.round(progress * 100) + "%";
  jobProgress.textContent = percent;
  if (job.state === "done") {
    say(jobMessage, "Index rebuilt (version " + job.version + ") and now serving.", "ok");
  } else if (job.state === "failed") {
    say(jobMessage, "The rebuild failed: " + (job.error || "unknown error") +
      " The previous index is still serving.", "bad");
  } else {
    say(jobMessage, (job.state === "queued" ? "Rebuild queued… " : "Rebuilding… ") + percent);
  }
  clear(jobSkipped);
  (job.skipped || []).forEach((s) => jobSkipped.appendChild(el("li", null, "Skipped " + s.file + ": " + s.reason)));
}

/* ---------- what users asked ---------- */

function reportItem(group, wrong) {
  const item = el("li", "report-item");
  const head = el("p", "report-question");
  head.appendChild(el("span", "report-count", String(group.count)));
  head.appendChild(document.createTextNode(group.question));
  item.appendChild(head);
  item.appendChild(el("p", "report-meta",
    (wrong ? "Marked wrong " + plural(group.count, "time", "times") : "Asked " + plural(group.count, "time", "times")) +
    " · last " + formatDate(group.last_seen) + " · index " + group.index_version));
  if (group.context && group.context.length) {
    item.appendChild(el("p", "report-context", "A follow-up to: “" + group.context.join(" / ") + "”"));
  }
  if (wrong && group.answer) item.appendChild(el("p", "report-answer", "Answer given: " + group.answer));
  (group.comments || []).forEach((c) => item.appendChild(el("p", "report-comment", "“" + c.comment + "”")));
  if (group.closest) {
    const link = el("a", "report-link",
      (wrong ? "Passage cited: " : "Closest passage found: ") + [group.closest.section, group.closest.title].filter(Boolean).join(" — "));
    link.href = group.closest.url || readUrl(group.closest.doc_id, group.closest.start, group.closest.end);
    item.appendChild(link);
  }
  return item;
}

async function loadReport(status, list, message) {
  say(message, "Loading…");
  try {
    const r = await admin("GET", "/questions?status=" + status + "&limit=" + REPORT_LIMIT);
    if (!r.ok) {
      say(message, r.detail, "bad");
      return;
    }
    clear(list);
    const groups = r.data.questions || [];
    groups.forEach((g) => list.appendChild(reportItem(g, status === "downvoted")));
    if (r.data.mode === "off") {
      say(message, "The question log is off on this server (MSCQA_QUESTION_LOG=off).");
    } else if (!groups.length) {
      say(message, status === "downvoted" ? "No answer has been marked wrong in the last " + r.data.days + " days."
        : "Every question of the last " + r.data.days + " days was answered.");
    } else {
      say(message, "");
    }
  } catch (e) {
    say(message, "The server could not be reached.", "bad");
  }
}

function loadReports() {
  loadReport("unanswered", $("unanswered-list"), $("unanswered-message"));
  loadReport("downvoted", $("downvoted-list"), $("downvoted-message"));
}

$("report-refresh").addEventListener("click", loadReports);

/* Either report as a question file for `mscqa eval`: the curator fills in gold phrases once
 * documents that answer the questions are indexed, and measures the rebuilt index on them. */
async function exportReport(status, message) {
  let r;
  try {
    r = await admin("GET", "/questions/export?status=" + status);
  } catch (e) {
    say(message, "The server could not be reached.", "bad");
    return;
  }
  if (!r.ok) {
    if (r.status !== 401 && r.status !== 403) say(message, "The download failed: " + r.detail, "bad");
    return;
  }
  const name = /filename="([^"]+)"/.exec(r.response.headers.get("Content-Disposition") || "");
  const link = el("a");
  link.href = URL.createObjectURL(new Blob([r.text], { type: "application/x-ndjson" }));
  link.download = name ? name[1] : "questions-" + status + ".jsonl";
  document.body.appendChild(link);
  link.click();
  link.remove();
  window.setTimeout(() => URL.revokeObjectURL(link.href), 10000);
  const lines = r.text.split("\n").filter(Boolean).length;
  say(message, "Downloaded " + link.download + " (" + plural(lines, "question", "questions") +
    "): fill in gold phrases, then run mscqa eval on it.", "ok");
}

$("report-export").addEventListener("click", () => exportReport("unanswered", $("unanswered-message")));
$("downvoted-export").addEventListener("click", () => exportReport("downvoted", $("downvoted-message")));

/* ---------- start ---------- */

$("docs-refresh").addEventListener("click", loadDocuments);
loadDocuments();
if (getToken()) checkToken(false);
