// Drives a Shuttle OpenAI-compatible endpoint with the official `openai` npm client and prints
// one JSON document on stdout describing what the client saw. The Java side
// (OpenAiClientE2ETest) makes the assertions; this script only records, so a client-side parse
// failure shows up as an "error" entry instead of a crash without context.
//
// usage: node openai-check.mjs BASE_URL MODEL      (BASE_URL ends in /v1)
import OpenAI from 'openai';

const [baseURL, model] = process.argv.slice(2);
if (!baseURL || !model) {
  console.error('usage: node openai-check.mjs BASE_URL MODEL   (e.g. http://127.0.0.1:8000/v1 tiny)');
  process.exit(2);
}

// No retries: a retried request would hide a failing first answer.
const client = new OpenAI({ baseURL, apiKey: 'unused-by-shuttle-local', maxRetries: 0, timeout: 120_000 });

// A greedy request whose length does not depend on where EOS falls (vLLM's ignore_eos extension;
// the client passes unknown body parameters through).
const GREEDY = { model, temperature: 0, max_tokens: 16, ignore_eos: true };
const PROMPT = 'The quick brown fox';
const MESSAGES = [
  { role: 'system', content: 'You are a terse assistant.' },
  { role: 'user', content: 'Name three colours.' },
];

async function record(name, fn) {
  try {
    return await fn();
  } catch (e) {
    return { error: { name: e?.constructor?.name, status: e?.status ?? null, message: String(e?.message ?? e) } };
  }
}

/** Collects a stream of chunks: the concatenated text, finish reasons, usage and chunk count. */
async function collect(stream, textOf) {
  let text = '';
  let chunks = 0;
  const finishReasons = [];
  let usage = null;
  const ids = new Set();
  for await (const chunk of stream) {
    chunks++;
    ids.add(chunk.id);
    for (const c of chunk.choices ?? []) {
      text += textOf(c) ?? '';
      if (c.finish_reason) {
        finishReasons.push(c.finish_reason);
      }
    }
    if (chunk.usage) {
      usage = chunk.usage;
    }
  }
  return { text, chunks, finish_reasons: finishReasons, usage, distinct_ids: ids.size };
}

const out = {};

out.models = await record('models', async () => {
  const ids = [];
  for await (const m of client.models.list()) {
    ids.push(m.id);
  }
  return { ids };
});

out.completion = await record('completion', async () => {
  const r = await client.completions.create({ ...GREEDY, prompt: PROMPT });
  return { object: r.object, model: r.model, text: r.choices[0].text, finish_reason: r.choices[0].finish_reason,
    choices: r.choices.length, usage: r.usage };
});

out.completion_stream = await record('completion_stream', async () => {
  const s = await client.completions.create({ ...GREEDY, prompt: PROMPT, stream: true,
    stream_options: { include_usage: true } });
  return collect(s, (c) => c.text);
});

out.chat = await record('chat', async () => {
  const r = await client.chat.completions.create({ ...GREEDY, messages: MESSAGES });
  const c = r.choices[0];
  return { object: r.object, model: r.model, role: c.message.role, text: c.message.content,
    finish_reason: c.finish_reason, choices: r.choices.length, usage: r.usage };
});

out.chat_stream = await record('chat_stream', async () => {
  const s = await client.chat.completions.create({ ...GREEDY, messages: MESSAGES, stream: true,
    stream_options: { include_usage: true } });
  return collect(s, (c) => c.delta?.content);
});

// The client's helper that assembles a streamed chat answer itself (its own SSE parser and
// accumulator), checked against the same greedy answer.
out.chat_stream_helper = await record('chat_stream_helper', async () => {
  const runner = client.chat.completions.stream({ ...GREEDY, messages: MESSAGES });
  const final = await runner.finalChatCompletion();
  return { text: final.choices[0].message.content, finish_reason: final.choices[0].finish_reason };
});

// An error must reach the client as its typed error with OpenAI's body fields.
out.bad_request = await record('bad_request', async () => {
  await client.chat.completions.create({ ...GREEDY, messages: MESSAGES, max_tokens: -5 });
  return { unexpected: 'the request with max_tokens -5 succeeded' };
});

process.stdout.write(JSON.stringify(out) + '\n');
