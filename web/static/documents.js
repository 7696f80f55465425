/* mscqa documents page: what is indexed, and curator tools (upload, delete, rebuild).
 *
 * Same rules as app.js: text from documents, users or the server goes into the page with
 * textContent only (never innerHTML or HTML strings); no inline handlers or style attributes
 * (strict CSP). The admin token lives in sessionStorage for this tab only and is sent as an
 * Authorization: Bearer header, never in a URL or a cookie.
 */
(function () {
  "use strict";

  var TOKEN_KEY = "mscqa.adminToken";
  var POLL_MS = 600;

  var body = document.body;
  var DOCS_URL = body.getAttribute("data-documents-url") || "/documents";
  var ADMIN_URL = body.getAttribute("data-admin-url") || "/admin";

  var table = document.getElementById("docs-table");
  var tbody = document.getElementById("docs-body");
  var docsMessage = document.getElementById("docs-message");
  var refreshButton = document.getElementById("docs-refresh");
  var adminCol = table.querySelector(".admin-col");

  var tokenForm = document.getElementById("token-form");
  var tokenInput = document.getElementById("admin-token");
  var tokenMessage = document.getElementById("token-message");
  var tools = document.getElementById("admin-tools");
  var forgetButton = document.getElementById("forget-token");

  var uploadForm = document.getElementById("upload-form");
  var uploadFile = document.getElementById("upload-file");
  var uploadReplace = document.getElementById("upload-replace");
  var uploadButton = document.getElementById("upload-button");
  var uploadMessage = document.getElementById("upload-message");

  var rebuildButton = document.getElementById("rebuild");
  var jobBox = document.getElementById("job");
  var jobProgress = document.getElementById("job-progress");
  var jobMessage = document.getElementById("job-message");
  var jobSkipped = document.getElementById("job-skipped");

  var pollTimer = null;

  /* ---------- helpers ---------- */

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

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

  function formatDate(seconds) {
    if (typeof seconds !== "number" || !isFinite(seconds)) return "—";
    var d = new Date(seconds * 1000);
    return d.toLocaleDateString(undefined, { year: "numeric", month: "short", day: "numeric" }) +
      " " + d.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" });
  }

  function readJson(resp) {
    return resp.json().catch(function () {
      return null;
    });
  }

  function detailOf(data, resp) {
    if (data && typeof data.detail === "string") return data.detail;
    return "The server answered " + resp.status + ".";
  }

  /* Calls an admin route with the token. Resolves {ok, status, data}; a refused token
   * (401/403) takes the page back to the token form with the server's reason. */
  function admin(method, path, payload) {
    var headers = { Accept: "application/json", Authorization: "Bearer " + getToken() };
    return fetch(ADMIN_URL + path, {
      method: method,
      headers: headers,
      body: payload || null,
      credentials: "omit",
      cache: "no-store"
    }).then(function (resp) {
      return readJson(resp).then(function (data) {
        if (resp.status === 401 || resp.status === 403) {
          lockTools(detailOf(data, resp));
        }
        return { ok: resp.ok, status: resp.status, data: data, detail: detailOf(data, resp) };
      });
    });
  }

  /* ---------- the document list ---------- */

  function loadDocuments() {
    docsMessage.textContent = "Loading the document list…";
    return fetch(DOCS_URL, { headers: { Accept: "application/json" }, cache: "no-store" })
      .then(function (resp) {
        return readJson(resp).then(function (data) {
          if (!resp.ok || !data || !Array.isArray(data.documents)) {
            throw new Error(detailOf(data, resp));
          }
          renderDocuments(data.documents);
        });
      })
      .catch(function (err) {
        table.hidden = true;
        docsMessage.textContent = "Could not load the document list: " + err.message;
      });
  }

  function renderDocuments(docs) {
    docs.sort(function (a, b) {
      return String(a.title || a.doc_id).localeCompare(String(b.title || b.doc_id));
    });
    while (tbody.firstChild) tbody.removeChild(tbody.firstChild);
    docs.forEach(function (doc) {
      tbody.appendChild(documentRow(doc));
    });
    table.hidden = docs.length === 0;
    var chunks = docs.reduce(function (n, d) {
      return n + (d.chunks || 0);
    }, 0);
    docsMessage.textContent = docs.length === 0
      ? "No documents are indexed yet."
      : docs.length + (docs.length === 1 ? " document, " : " documents, ") +
        chunks + (chunks === 1 ? " passage" : " passages") + " in the serving index.";
    showAdminColumn(!!getToken());
  }

  function cell(label, className) {
    var td = el("td", className);
    td.setAttribute("data-label", label);
    return td;
  }

  function documentRow(doc) {
    var tr = el("tr");
    var title = cell("Title", "doc-title");
    title.appendChild(el("span", "doc-name", doc.title || doc.doc_id));
    title.appendChild(el("span", "doc-id", doc.doc_id));
    tr.appendChild(title);
    tr.appendChild(cell("Type")).textContent = String(doc.format || "").toUpperCase();
    tr.appendChild(cell("Passages", "doc-num")).textContent = String(doc.chunks);
    var modified = cell("Modified");
    modified.textContent = formatDate(doc.modified);
    if (doc.date) modified.appendChild(el("span", "doc-id", "Dated " + doc.date));
    tr.appendChild(modified);
    var actions = cell("Actions", "admin-col");
    actions.hidden = !getToken();
    actions.appendChild(deleteControl(doc));
    tr.appendChild(actions);
    return tr;
  }

  function deleteControl(doc) {
    var box = el("div", "delete-box");
    var start = el("button", "btn btn-secondary btn-small", "Delete");
    start.type = "button";
    start.setAttribute("aria-label", "Delete " + doc.doc_id);
    box.appendChild(start);
    start.addEventListener("click", function () {
      box.removeChild(start);
      var question = el("span", "delete-question", "Delete the file " + doc.doc_id + "?");
      var yes = el("button", "btn btn-danger btn-small", "Yes, delete");
      var no = el("button", "btn btn-secondary btn-small", "Cancel");
      yes.type = "button";
      no.type = "button";
      box.appendChild(question);
      box.appendChild(yes);
      box.appendChild(no);
      no.focus();
      no.addEventListener("click", function () {
        while (box.firstChild) box.removeChild(box.firstChild);
        box.appendChild(start);
        start.focus();
      });
      yes.addEventListener("click", function () {
        yes.disabled = no.disabled = true;
        var path = doc.doc_id.split("/").map(encodeURIComponent).join("/");
        admin("DELETE", "/documents/" + path).then(function (r) {
          while (box.firstChild) box.removeChild(box.firstChild);
          if (r.ok || r.status === 404) {
            box.appendChild(el("span", "delete-done",
              r.ok ? "Deleted. Rebuild the index to stop answering from it." : r.detail));
          } else {
            box.appendChild(el("span", "delete-question", r.detail));
            box.appendChild(start);
          }
        }).catch(function () {
          while (box.firstChild) box.removeChild(box.firstChild);
          box.appendChild(el("span", "delete-question", "The server could not be reached."));
          box.appendChild(start);
        });
      });
    });
    return box;
  }

  function showAdminColumn(show) {
    var cells = table.querySelectorAll(".admin-col");
    for (var i = 0; i < cells.length; i++) cells[i].hidden = !show;
    adminCol.hidden = !show;
  }

  /* ---------- token ---------- */

  function unlockTools() {
    tokenForm.hidden = true;
    tools.hidden = false;
    showAdminColumn(true);
  }

  function lockTools(reason) {
    setToken("");
    stopPolling();
    tools.hidden = true;
    tokenForm.hidden = false;
    showAdminColumn(false);
    say(tokenMessage, reason || "", reason ? "bad" : "");
  }

  tokenForm.addEventListener("submit", function (event) {
    event.preventDefault();
    var value = tokenInput.value.trim();
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
  function checkToken(focusTools) {
    return admin("GET", "/jobs").then(function (r) {
      if (!r.ok) {
        if (r.status !== 401 && r.status !== 403) say(tokenMessage, r.detail, "bad");
        return;
      }
      say(tokenMessage, "");
      unlockTools();
      if (focusTools) forgetButton.focus();
      var jobs = (r.data && r.data.jobs) || [];
      for (var i = 0; i < jobs.length; i++) {
        if (jobs[i].state === "queued" || jobs[i].state === "running") {
          follow(jobs[i].job_id);
          break;
        }
      }
    }).catch(function () {
      say(tokenMessage, "The server could not be reached.", "bad");
    });
  }

  forgetButton.addEventListener("click", function () {
    lockTools("");
    tokenInput.focus();
  });

  /* ---------- upload ---------- */

  uploadForm.addEventListener("submit", function (event) {
    event.preventDefault();
    var file = uploadFile.files && uploadFile.files[0];
    if (!file) {
      say(uploadMessage, "Choose a file first.", "bad");
      uploadFile.focus();
      return;
    }
    var data = new FormData();
    data.append("file", file, file.name);
    var query = uploadReplace.checked ? "?replace=true" : "";
    uploadButton.disabled = true;
    say(uploadMessage, "Uploading " + file.name + "…");
    admin("POST", "/documents" + query, data).then(function (r) {
      if (r.status === 201) {
        say(uploadMessage, (r.data.replaced ? "Replaced " : "Stored ") + r.data.file +
          ". Rebuild the index to answer from it.", "ok");
        uploadForm.reset();
      } else if (r.status === 200) {
        say(uploadMessage, r.data.file + " is already in the corpus with the same content.", "ok");
      } else {
        say(uploadMessage, r.detail, "bad");
      }
    }).catch(function () {
      say(uploadMessage, "The upload failed: the server could not be reached.", "bad");
    }).then(function () {
      uploadButton.disabled = false;
    });
  });

  /* ---------- rebuild ---------- */

  rebuildButton.addEventListener("click", function () {
    rebuildButton.disabled = true;
    admin("POST", "/reindex").then(function (r) {
      if ((r.status === 202 || r.status === 409) && r.data && r.data.job_id) {
        if (r.status === 409) say(jobMessage, "A rebuild is already running; following it.");
        follow(r.data.job_id);
      } else {
        rebuildButton.disabled = false;
        jobBox.hidden = false;
        say(jobMessage, r.detail, "bad");
      }
    }).catch(function () {
      rebuildButton.disabled = false;
      jobBox.hidden = false;
      say(jobMessage, "The server could not be reached.", "bad");
    });
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
    while (jobSkipped.firstChild) jobSkipped.removeChild(jobSkipped.firstChild);
    say(jobMessage, "Rebuild queued…");
    poll(jobId);
  }

  function poll(jobId) {
    admin("GET", "/jobs/" + encodeURIComponent(jobId)).then(function (r) {
      if (!r.ok) {
        rebuildButton.disabled = false;
        if (r.status !== 401 && r.status !== 403) say(jobMessage, r.detail, "bad");
        return;
      }
      showJob(r.data);
      if (r.data.state === "queued" || r.data.state === "running") {
        pollTimer = window.setTimeout(function () {
          poll(jobId);
        }, POLL_MS);
      } else {
        rebuildButton.disabled = false;
        if (r.data.state === "done") loadDocuments();
      }
    }).catch(function () {
      pollTimer = window.setTimeout(function () {
        poll(jobId);
      }, POLL_MS * 3);
    });
  }

  function showJob(job) {
    var progress = typeof job.progress === "number" ? job.progress : 0;
    jobProgress.value = progress;
    var percent = Math.round(progress * 100) + "%";
    jobProgress.textContent = percent;
    if (job.state === "done") {
      say(jobMessage, "Index rebuilt (version " + job.version + ") and now serving.", "ok");
    } else if (job.state === "failed") {
      say(jobMessage, "The rebuild failed: " + (job.error || "unknown error") +
        " The previous index is still serving.", "bad");
    } else {
      say(jobMessage, (job.state === "queued" ? "Rebuild queued… " : "Rebuilding… ") + percent);
    }
    while (jobSkipped.firstChild) jobSkipped.removeChild(jobSkipped.firstChild);
    (job.skipped || []).forEach(function (s) {
      jobSkipped.appendChild(el("li", null, "Skipped " + s.file + ": " + s.reason));
    });
  }

  /* ---------- start ---------- */

  refreshButton.addEventListener("click", loadDocuments);
  loadDocuments();
  if (getToken()) checkToken(false);
})();
