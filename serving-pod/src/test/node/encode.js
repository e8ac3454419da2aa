#!/usr/bin/env node
// Reference side of TokenizerParityTest: runs the official Hugging Face `tokenizers` library.
//
// stdin: one JSON request, or a JSON array of requests, each
//   {"tokenizer": "/path/to/tokenizer.json",
//    "texts": ["...", ...], "addSpecialTokens": true,
//    "decode": [[1, 2, 3], ...], "skipSpecialTokens": false}
// stdout: one JSON response per request (an array when the input was an array), each
//   {"ids": [[...], ...], "decoded": ["...", ...]}
// Errors go to stderr with exit code 1.
'use strict';

const { Tokenizer } = require('tokenizers');

function readStdin() {
  return new Promise((resolve, reject) => {
    const chunks = [];
    process.stdin.on('data', (c) => chunks.push(c));
    process.stdin.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    process.stdin.on('error', reject);
  });
}

async function handle(request) {
  if (typeof request.tokenizer !== 'string') {
    throw new Error('request.tokenizer must be the path of a tokenizer.json');
  }
  const tokenizer = Tokenizer.fromFile(request.tokenizer);
  const addSpecialTokens = request.addSpecialTokens !== false;
  const ids = [];
  for (const text of request.texts || []) {
    const encoding = await tokenizer.encode(text, null, { addSpecialTokens });
    ids.push(Array.from(encoding.getIds()));
  }
  const skipSpecialTokens = request.skipSpecialTokens === true;
  const decoded = [];
  for (const sequence of request.decode || []) {
    decoded.push(await tokenizer.decode(sequence, skipSpecialTokens));
  }
  return { ids, decoded };
}

async function main() {
  const input = JSON.parse(await readStdin());
  const output = Array.isArray(input) ? await Promise.all(input.map(handle)) : await handle(input);
  process.stdout.write(JSON.stringify(output));
}

main().catch((e) => {
  process.stderr.write(`encode.js: ${e && e.stack ? e.stack : e}\n`);
  process.exit(1);
});
