/* mscqa chat page.
 *
 * Security rule for this file: every piece of text that comes from a user or a document is
 * inserted with textContent / createTextNode. Never use innerHTML, insertAdjacentHTML,
 * outerHTML, document.write or HTML strings here. The page is served under a strict CSP
 * (no inline scripts or styles), so no inline handlers or style attributes either.
 */
(function () {
  "use strict";

  var HISTORY_LIMIT = 10; // previous messages sent with a follow-up question
  var SNIPPET_CHARS = 260; // length of a related-passage preview
  var HEALTH_RETRY_MS = 3000;
  var HEALTH_MAX_TRIES = 60;

  var body = document.body;
  var ASK_URL = body.getAttribute("data-ask-url") || "/ask";
  var HEALTH_URL = body.getAttribute("data-health-url") || "/health";

  var form = document.getElementById("ask-form");
  var input = document.getElementById("question");
  var sendButton = document.getElementById("send");
  var conversation = document.getElementById("conversation");
  var welcome = document.getElementById("welcome");
  var statusLine = document.getElementById("status");
  var newButton = document.getElementById("new-conversation");

  var passage = document.getElementById("passage");
  var passageKind = passage.querySelector(".passage-kind");
  var passageTitle = passage.querySelector(".passage-title");
  var passageSection = passage.querySelector(".passage-section");
  var passagePage = passage.querySelector(".passage-page");
  var passageText = passage.querySelector(".passage-text");
  var passageNote = passage.querySelector(".passage-note");
  var passageClose = passage.querySelector(".passage-close");

  var history = []; // [{role, content}], always user/assistant pairs
  var busy = false;
  var generation = 0; // bumped by "New conversation" so stale responses are dropped
  var controller = null;
  var passageOpener = null;
  var turnCounter = 0;

  /* ---------- small DOM helpers (text only) ---------- */

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function textNode(text) {
    return document.createTextNode(String(text));
  }

  function plural(n, one, many) {
    return n + " " + (n === 1 ? one : many);
  }

  function isFiniteNumber(x) {
    return typeof x === "number" && isFinite(x);
  }

  /* ---------- index status ---------- */

  function setStatus(text, state) {
    statusLine.textContent = text;
    statusLine.className = "status" + (state ? " status-" + state : "");
  }

  function checkHealth(tries) {
    fetch(HEALTH_URL, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (resp) {
        return resp
          .json()
          .catch(function () {
            return null;
          })
          .then(function (data) {
            return { resp: resp, data: data };
          });
      })
      .then(function (r) {
        var index = r.data && r.data.index;
        if (r.resp.ok && index) {
          var docs = Number(index.documents) || 0;
          var chunks = Number(index.chunks) || 0;
          setStatus("Indexed: " + plural(docs, "document", "documents") + ", " +
            plural(chunks, "passage", "passages"), "ok");
          statusLine.title = index.version ? "Index version " + index.version : "";
        } else if (r.resp.status === 503 && tries < HEALTH_MAX_TRIES) {
          setStatus("The document index is loading…", "loading");
          window.setTimeout(function () { checkHealth(tries + 1); }, HEALTH_RETRY_MS);
        } else {
          setStatus("Document index unavailable", "bad");
        }
      })
      .catch(function () {
        setStatus("Cannot reach the server", "bad");
      });
  }

  /* ---------- conversation ---------- */

  function hideWelcome() {
    welcome.hidden = true;
  }

  /* Bring a new turn into view above the sticky question box; a long answer is shown from
   * its beginning rather than its end. */
  function scrollIntoViewIfPossible(node) {
    if (!node || !node.scrollIntoView) return;
    document.documentElement.style.setProperty("--form-height", form.offsetHeight + "px");
    var room = window.innerHeight - form.offsetHeight - 24;
    var tall = node.offsetHeight > room;
    var smooth = !(window.matchMedia && window.matchMedia("(prefers-reduced-motion: reduce)").matches);
    node.scrollIntoView({ block: tall ? "start" : "nearest", behavior: smooth ? "smooth" : "auto" });
  }

  function appendUserTurn(question) {
    var turn = el("article", "turn user");
    turn.setAttribute("aria-label", "You asked");
    turn.appendChild(el("p", "turn-role", "You"));
    turn.appendChild(el("p", "question-text", question));
    conversation.appendChild(turn);
    scrollIntoViewIfPossible(turn);
    return turn;
  }

  function appendPendingTurn() {
    var turn = el("article", "turn pending");
    turn.setAttribute("aria-busy", "true");
    var row = el("p", "pending-text");
    row.appendChild(el("span", "spinner"));
    row.appendChild(textNode("Searching the documents…"));
    turn.appendChild(el("p", "turn-role", "Assistant"));
    turn.appendChild(row);
    conversation.appendChild(turn);
    scrollIntoViewIfPossible(turn);
    return turn;
  }

  function citationLabel(c) {
    var label = c.title || c.doc_id || "Untitled document";
    if (c.section) label += " — " + c.section;
    if (c.page !== null && c.page !== undefined) label += ", page " + c.page;
    return label;
  }

  /* Section first (it is what differs between passages), then the document title, muted. */
  function appendDocLabel(parent, c, prefix) {
    var box = el("span", prefix + "-label");
    var title = c.title || c.doc_id || "Untitled document";
    var page = c.page !== null && c.page !== undefined ? "page " + c.page : "";
    box.appendChild(el("span", prefix + "-main", c.section || title));
    var rest = [c.section ? title : "", page].filter(Boolean).join(" · ");
    if (rest) box.appendChild(el("span", prefix + "-doc", rest));
    parent.appendChild(box);
  }

  function makeCiteButton(citation, n) {
    var button = el("button", "cite", String(n));
    button.type = "button";
    button.setAttribute("data-n", String(n));
    button.setAttribute("aria-label", "Source " + n + ": " + citationLabel(citation));
    button.setAttribute("aria-controls", "passage");
    button.setAttribute("aria-expanded", "false");
    button.title = "Show source " + n;
    button.addEventListener("click", function () {
      openPassage(citation, button, "source");
    });
    return button;
  }

  /* Split the answer on [n] markers; known markers become buttons, everything else is text. */
  function renderAnswerText(container, answer, byN) {
    var re = /\[(\d{1,4})\]/g;
    var last = 0;
    var match;
    while ((match = re.exec(answer)) !== null) {
      var n = parseInt(match[1], 10);
      var citation = byN[n];
      if (!citation) continue;
      var before = answer.slice(last, match.index);
      if (before) container.appendChild(textNode(before.replace(/[ \t]+$/, "")));
      container.appendChild(makeCiteButton(citation, n));
      last = re.lastIndex;
    }
    var rest = answer.slice(last);
    if (rest) container.appendChild(textNode(rest));
  }

  function renderSources(turn, citations) {
    if (!citations.length) return;
    var wrap = el("div", "sources");
    wrap.appendChild(el("h3", "sources-heading", "Sources"));
    var list = el("ol", "sources-list");
    citations.forEach(function (c) {
      var item = el("li", "source-item");
      var button = el("button", "source-link");
      button.type = "button";
      button.setAttribute("data-n", String(c.n));
      button.setAttribute("aria-controls", "passage");
      button.setAttribute("aria-expanded", "false");
      button.setAttribute("aria-label", "Show source " + c.n + ": " + citationLabel(c));
      button.appendChild(el("span", "source-n", String(c.n)));
      appendDocLabel(button, c, "source");
      button.addEventListener("click", function () {
        openPassage(c, button, "source");
      });
      item.appendChild(button);
      list.appendChild(item);
    });
    wrap.appendChild(list);
    turn.appendChild(wrap);
  }

  function snippet(text) {
    var chars = Array.from(String(text || "").replace(/\s+/g, " ").trim());
    if (chars.length <= SNIPPET_CHARS) return chars.join("");
    return chars.slice(0, SNIPPET_CHARS).join("").replace(/\s+\S*$/, "") + " …";
  }

  function renderRelated(turn, related, answered) {
    if (!related.length) return;
    var details = el("details", "related");
    var summary = el("summary", "related-summary",
      (answered ? "Related passages" : "Closest passages (not an answer)") +
      " (" + related.length + ")");
    details.appendChild(summary);
    if (!answered) {
      details.appendChild(el("p", "related-note",
        "These passages were the nearest matches, but none of them answers the question."));
    }
    var list = el("ul", "related-list");
    related.forEach(function (c) {
      var item = el("li", "related-item");
      var button = el("button", "related-open");
      button.type = "button";
      appendDocLabel(button, c, "related");
      button.setAttribute("aria-controls", "passage");
      button.setAttribute("aria-expanded", "false");
      button.addEventListener("click", function () {
        openPassage(c, button, answered ? "related" : "closest");
      });
      item.appendChild(button);
      item.appendChild(el("p", "related-snippet", snippet(c.text)));
      list.appendChild(item);
    });
    details.appendChild(list);
    turn.appendChild(details);
  }

  function renderAnswerTurn(data) {
    turnCounter += 1;
    var answered = data.answered === true;
    var citations = Array.isArray(data.citations) ? data.citations : [];
    var related = Array.isArray(data.related) ? data.related : [];
    var answer = typeof data.answer === "string" ? data.answer : "";

    var turn = el("article", "turn assistant" + (answered ? "" : " not-found"));
    turn.id = "turn-" + turnCounter;
    turn.setAttribute("aria-label", answered ? "Answer" : "Not found in the documents");
    turn.appendChild(el("p", "turn-role", "Assistant"));

    if (!answered) {
      turn.appendChild(el("p", "not-found-badge", "Not found in the documents"));
    }

    var byN = {};
    citations.forEach(function (c) {
      if (c && isFiniteNumber(c.n)) byN[c.n] = c;
    });
    var answerBox = el("div", "answer");
    if (answered) {
      renderAnswerText(answerBox, answer, byN);
    } else {
      answerBox.textContent = answer || "I couldn't find that in the documents.";
    }
    turn.appendChild(answerBox);

    var meta = el("p", "turn-meta");
    if (answered && isFiniteNumber(data.confidence)) {
      var conf = Math.max(0, Math.min(1, data.confidence));
      var confBox = el("span", "confidence");
      var meter = el("meter", "confidence-meter");
      meter.min = 0;
      meter.max = 1;
      meter.low = 0.4;
      meter.high = 0.7;
      meter.optimum = 1;
      meter.value = conf;
      meter.setAttribute("aria-hidden", "true");
      confBox.appendChild(meter);
      confBox.appendChild(textNode("confidence " + conf.toFixed(2)));
      meta.appendChild(confBox);
    }
    if (isFiniteNumber(data.took_ms)) {
      var took = data.took_ms >= 1000
        ? (data.took_ms / 1000).toFixed(1) + " s"
        : Math.round(data.took_ms) + " ms";
      meta.appendChild(el("span", "took", took));
    }
    if (meta.childNodes.length) turn.appendChild(meta);

    if (answered) renderSources(turn, citations);
    renderRelated(turn, related, answered);
    return turn;
  }

  function renderErrorTurn(message) {
    var turn = el("article", "turn assistant error");
    turn.setAttribute("aria-label", "Error");
    turn.appendChild(el("p", "turn-role", "Assistant"));
    turn.appendChild(el("p", "error-badge", "Something went wrong"));
    turn.appendChild(el("p", "error-message", message));
    turn.appendChild(el("p", "error-hint", "Your question is still in the box below, so you can try again."));
    return turn;
  }

  function detailText(data) {
    if (!data) return "";
    var detail = data.detail;
    if (typeof detail === "string") return detail;
    if (Array.isArray(detail)) {
      return detail
        .map(function (d) {
          return d && typeof d.msg === "string" ? d.msg : "";
        })
        .filter(Boolean)
        .join("; ");
    }
    return "";
  }

  function errorMessage(resp, data) {
    var detail = detailText(data);
    if (resp.status === 429) {
      var retry = parseInt(resp.headers.get("Retry-After") || "", 10);
      return "Too many questions in a short time. Please wait " +
        (isFinite(retry) && retry > 0 ? plural(retry, "second", "seconds") : "a moment") +
        " and try again.";
    }
    if (resp.status === 503) {
      return detail || "The document index is not ready yet. Please try again in a moment.";
    }
    if (resp.status === 422) {
      return "The question could not be processed: " + (detail || "invalid request") + ".";
    }
    if (resp.status >= 500) {
      return "The server had a problem answering (error " + resp.status + ")" +
        (detail ? ": " + detail : ".");
    }
    return detail || "Unexpected response from the server (HTTP " + resp.status + ").";
  }

  function setBusy(value) {
    busy = value;
    sendButton.disabled = value;
    form.setAttribute("aria-busy", value ? "true" : "false");
    conversation.setAttribute("aria-busy", value ? "true" : "false");
    body.classList.toggle("is-busy", value);
  }

  function readJson(resp) {
    return resp.text().then(function (raw) {
      if (!raw) return null;
      try {
        return JSON.parse(raw);
      } catch (e) {
        return null;
      }
    });
  }

  function ask(rawQuestion) {
    if (busy) return;
    var question = String(rawQuestion || "").trim();
    if (!question) {
      input.focus();
      return;
    }
    var gen = generation;
    hideWelcome();
    appendUserTurn(question);
    var pending = appendPendingTurn();
    setBusy(true);

    var payload = { question: question };
    var previous = history.slice(-HISTORY_LIMIT);
    if (previous.length) payload.history = previous;

    controller = typeof AbortController === "function" ? new AbortController() : null;
    var response = null;

    fetch(ASK_URL, {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify(payload),
      credentials: "same-origin",
      signal: controller ? controller.signal : undefined
    })
      .then(function (resp) {
        response = resp;
        return readJson(resp);
      })
      .then(function (data) {
        if (gen !== generation) return;
        var turn;
        if (!response.ok) {
          turn = renderErrorTurn(errorMessage(response, data));
        } else if (!data || typeof data.answer !== "string") {
          turn = renderErrorTurn("The server sent an answer this page could not read.");
        } else {
          turn = renderAnswerTurn(data);
          history.push({ role: "user", content: question });
          history.push({ role: "assistant", content: data.answer });
          if (history.length > HISTORY_LIMIT * 4) history = history.slice(-HISTORY_LIMIT);
          if (input.value.trim() === question) input.value = "";
        }
        pending.replaceWith(turn);
        scrollIntoViewIfPossible(turn);
      })
      .catch(function (err) {
        if (gen !== generation || (err && err.name === "AbortError")) return;
        var turn = renderErrorTurn(
          "Could not reach the server. Check that mscqa is running, then try again.");
        pending.replaceWith(turn);
        scrollIntoViewIfPossible(turn);
      })
      .then(function () {
        if (gen !== generation) return;
        controller = null;
        setBusy(false);
      });
  }

  function newConversation() {
    generation += 1;
    if (controller) {
      controller.abort();
      controller = null;
    }
    closePassage(false);
    history = [];
    while (conversation.firstChild) conversation.removeChild(conversation.firstChild);
    setBusy(false);
    welcome.hidden = false;
    input.value = "";
    input.focus();
  }

  /* ---------- passage viewer ---------- */

  /* Offsets from the backend are Python string indices (Unicode code points), so index by
   * code point rather than by UTF-16 unit. Returns merged [start, end) ranges inside text. */
  function highlightRanges(citation, length) {
    var base = Number(citation.start) || 0;
    var spans = Array.isArray(citation.sentences) ? citation.sentences : [];
    var ranges = [];
    spans.forEach(function (s) {
      if (!s || !isFiniteNumber(s.start) || !isFiniteNumber(s.end)) return;
      var a = Math.max(0, Math.min(length, s.start - base));
      var b = Math.max(0, Math.min(length, s.end - base));
      if (b > a) ranges.push([a, b]);
    });
    ranges.sort(function (x, y) { return x[0] - y[0]; });
    var merged = [];
    ranges.forEach(function (r) {
      var top = merged[merged.length - 1];
      if (top && r[0] <= top[1]) top[1] = Math.max(top[1], r[1]);
      else merged.push([r[0], r[1]]);
    });
    return merged;
  }

  function fillPassageText(citation, highlight) {
    while (passageText.firstChild) passageText.removeChild(passageText.firstChild);
    var chars = Array.from(String(citation.text || ""));
    var ranges = highlight ? highlightRanges(citation, chars.length) : [];
    var pos = 0;
    ranges.forEach(function (r) {
      if (r[0] > pos) passageText.appendChild(textNode(chars.slice(pos, r[0]).join("")));
      passageText.appendChild(el("mark", "quoted", chars.slice(r[0], r[1]).join("")));
      pos = r[1];
    });
    if (pos < chars.length) passageText.appendChild(textNode(chars.slice(pos).join("")));
    return ranges.length;
  }

  function setOpenerExpanded(value) {
    if (passageOpener && passageOpener.setAttribute) {
      passageOpener.setAttribute("aria-expanded", value ? "true" : "false");
    }
  }

  function openPassage(citation, opener, kind) {
    setOpenerExpanded(false);
    passageOpener = opener || null;

    if (kind === "source") {
      passageKind.textContent = "Source " + citation.n;
    } else if (kind === "closest") {
      passageKind.textContent = "Closest passage · not an answer";
    } else {
      passageKind.textContent = "Related passage";
    }
    passage.classList.toggle("is-closest", kind === "closest");

    passageTitle.textContent = citation.title || citation.doc_id || "Untitled document";
    passageSection.textContent = citation.section ? citation.section : "";
    passageSection.hidden = !citation.section;
    var hasPage = citation.page !== null && citation.page !== undefined;
    passagePage.textContent = hasPage ? "Page " + citation.page : "";
    passagePage.hidden = !hasPage;

    var marks = fillPassageText(citation, kind === "source");
    passageNote.textContent = marks
      ? "Highlighted: the sentence" + (marks === 1 ? "" : "s") + " quoted in the answer."
      : "";
    passageNote.hidden = !marks;

    passage.hidden = false;
    body.classList.add("has-passage");
    setOpenerExpanded(true);
    passage.scrollTop = 0;
    passage.focus({ preventScroll: true });
    var firstMark = passageText.querySelector("mark");
    if (firstMark && firstMark.scrollIntoView) firstMark.scrollIntoView({ block: "nearest" });
  }

  function closePassage(restoreFocus) {
    if (passage.hidden) return;
    passage.hidden = true;
    body.classList.remove("has-passage");
    setOpenerExpanded(false);
    var opener = passageOpener;
    passageOpener = null;
    if (restoreFocus) {
      if (opener && document.body.contains(opener)) opener.focus();
      else input.focus();
    }
  }

  /* ---------- wiring ---------- */

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    ask(input.value);
  });

  input.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing && event.keyCode !== 229) {
      event.preventDefault();
      ask(input.value);
    }
  });

  Array.prototype.forEach.call(document.querySelectorAll(".example"), function (button) {
    button.addEventListener("click", function () {
      if (busy) return;
      input.value = button.textContent.trim();
      ask(input.value);
    });
  });

  newButton.addEventListener("click", newConversation);
  passageClose.addEventListener("click", function () {
    closePassage(true);
  });

  document.addEventListener("keydown", function (event) {
    if ((event.key === "Escape" || event.key === "Esc") && !passage.hidden) {
      event.preventDefault();
      closePassage(true);
    }
  });

  checkHealth(0);
})();
