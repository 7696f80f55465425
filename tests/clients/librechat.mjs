// The JavaScript OpenAI clients LibreChat runs a custom endpoint on, against a running mscqa:
// LangChain's ChatOpenAI (what LibreChat's agents call, streamed, with and without
// stream_options.include_usage) and the openai SDK's own stream helper, whose accumulator
// refuses a stream without a role or a finish_reason. Prints one JSON object for
// tests/test_js_clients.py to check.
//
//   node tests/clients/librechat.mjs http://127.0.0.1:8000 "How are adipose stem cells collected?"
import { ChatOpenAI } from "@langchain/openai";
import OpenAI from "openai";

const [base, question, followUp] = process.argv.slice(2);
const apiKey = process.env.MSCQA_TEST_KEY || "any-key";
const out = {};

// As librechat.yaml's custom endpoint builds it: baseURL, the model name, the sampling
// parameters LibreChat always sends (ignored by mscqa), no retries so errors surface.
function chat(streamUsage, streaming = true) {
  return new ChatOpenAI({
    model: "mscqa",
    apiKey,
    configuration: { baseURL: `${base}/v1` },
    streaming,
    streamUsage,
    temperature: 1,
    topP: 1,
    presencePenalty: 0,
    frequencyPenalty: 0,
    maxRetries: 0,
  });
}

async function streamed(llm, messages) {
  let text = "";
  let chunks = 0;
  for await (const chunk of await llm.stream(messages)) {
    if (typeof chunk.content !== "string") throw new Error("non-string content");
    text += chunk.content;
    chunks += 1;
  }
  return { text, chunks };
}

const user = (content) => ({ role: "user", content });
out.langchain = await streamed(chat(false), [user(question)]);
out.langchain_usage = await streamed(chat(true), [user(question)]);
const invoked = await chat(false, false).invoke([user(question)]);
out.langchain_invoke = { text: invoked.content };
if (followUp) {
  const history = [
    { role: "system", content: "You are a helpful assistant." },
    user(question),
    { role: "assistant", content: out.langchain.text },
    user(followUp),
  ];
  out.follow_up = await streamed(chat(false), history);
}

const client = new OpenAI({ baseURL: `${base}/v1`, apiKey, maxRetries: 0 });
const stream = client.chat.completions.stream({
  model: "mscqa",
  messages: [user(question)],
  stream_options: { include_usage: true },
  user: "librechat-user-id",
});
let deltas = "";
stream.on("content", (delta) => {
  deltas += delta;
});
const final = await stream.finalChatCompletion();
const choice = final.choices[0];
out.sdk = {
  id: final.id,
  deltas,
  content: choice.message.content,
  role: choice.message.role,
  finish_reason: choice.finish_reason,
  annotations: choice.message.annotations ?? null,
};

out.models = [];
for await (const model of client.models.list()) out.models.push(model.id);

try {
  await client.chat.completions.create({ model: "mscqa", messages: [user("x".repeat(3000))] });
  out.error = null;
} catch (err) {
  out.error = { name: err.constructor.name, status: err.status, code: err.code ?? null, message: err.message };
}

console.log(JSON.stringify(out));
