/* Conversations kept in this browser (localStorage), so a reload or "New conversation" loses
 * nothing. Each save re-reads what is stored and replaces only the conversation it changes, so
 * two tabs do not overwrite each other's conversations.
 *
 * Stored as {v: 1, conversations: [{id, created, updated, turns: [turn]}]}, where a turn is
 * {question, at, response (the /ask JSON) | null, error: string | null, feedback: {rating,
 * comment} | null}. The open conversation's id is kept per tab (sessionStorage).
 */

const KEY = "mscqa.conversations";
const CURRENT_KEY = "mscqa.currentConversation";
const VERSION = 1;
export const MAX_CONVERSATIONS = 100;

function storage(kind) {
  try {
    const store = window[kind];
    const probe = "mscqa.probe";
    store.setItem(probe, "1");
    store.removeItem(probe);
    return store;
  } catch (e) {
    return null; // disabled (privacy mode, policy): conversations live in this page only
  }
}

export function newId() {
  const bytes = new Uint8Array(8);
  crypto.getRandomValues(bytes);
  return "c" + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

export function newConversation() {
  const now = Date.now();
  return { id: newId(), created: now, updated: now, turns: [] };
}

/** The first question, as the conversation's title. */
export function titleOf(conversation) {
  const first = conversation.turns.find((t) => t && t.question);
  return first ? first.question.replace(/\s+/g, " ").trim() : "New conversation";
}

/** The history /ask wants for a follow-up to turn `index`: the answered turns before it, as
 * user/assistant pairs, the most recent `limit` messages. */
export function historyBefore(conversation, index, limit) {
  const messages = [];
  conversation.turns.slice(0, index).forEach((t) => {
    if (t.response && typeof t.response.answer === "string") {
      messages.push({ role: "user", content: t.question });
      messages.push({ role: "assistant", content: t.response.answer });
    }
  });
  return limit > 0 ? messages.slice(-limit) : [];
}

function valid(c) {
  return c && typeof c.id === "string" && Array.isArray(c.turns) && Number.isFinite(c.updated);
}

export class ConversationStore {
  constructor() {
    this.local = storage("localStorage");
    this.session = storage("sessionStorage");
    this.memory = []; // used when localStorage is unavailable
    this.persistent = this.local !== null;
  }

  read() {
    if (!this.local) return this.memory.slice();
    try {
      const data = JSON.parse(this.local.getItem(KEY) || "null");
      if (data && data.v === VERSION && Array.isArray(data.conversations)) {
        return data.conversations.filter(valid);
      }
    } catch (e) {
      /* damaged entry: start again rather than fail */
    }
    return [];
  }

  /** Newest first; conversations with no turns are not listed. */
  list() {
    return this.read()
      .filter((c) => c.turns.length)
      .sort((a, b) => b.updated - a.updated);
  }

  get(id) {
    return this.read().find((c) => c.id === id) || null;
  }

  /** Store `conversation` (replacing the stored one with its id). Returns an error message
   * when the browser refused (storage full), after dropping the oldest others to make room. */
  save(conversation) {
    return this.write((all) => [conversation, ...all.filter((c) => c.id !== conversation.id)]);
  }

  remove(id) {
    const removed = this.get(id);
    this.write((all) => all.filter((c) => c.id !== id));
    return removed;
  }

  write(change) {
    let all = change(this.read())
      .filter((c) => c.turns.length)
      .sort((a, b) => b.updated - a.updated)
      .slice(0, MAX_CONVERSATIONS);
    if (!this.local) {
      this.memory = all;
      return null;
    }
    for (;;) {
      try {
        this.local.setItem(KEY, JSON.stringify({ v: VERSION, conversations: all }));
        return null;
      } catch (e) {
        if (all.length <= 1) {
          return "This browser's storage is full, so this conversation is not saved.";
        }
        all = all.slice(0, -1); // make room: forget the oldest conversation
      }
    }
  }

  get currentId() {
    return this.session ? this.session.getItem(CURRENT_KEY) : null;
  }

  set currentId(id) {
    if (!this.session) return;
    if (id) this.session.setItem(CURRENT_KEY, id);
    else this.session.removeItem(CURRENT_KEY);
  }
}
