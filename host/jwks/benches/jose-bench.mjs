// Node baseline for `cargo bench -p gatehouse-jwks`: jose `jwtVerify` with `createLocalJWKSet`,
// on the keys, tokens and claims the Rust bench generated. Prints one JSON object on stdout.
//
// usage: node jose-bench.mjs <input.json>
// input: {jwks, tokens: {alg: token}, issuer, audience, sub, rounds, sample_ms, concurrency}

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createLocalJWKSet, jwtVerify } from 'jose';

const input = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const JWKS = createLocalJWKSet(input.jwks);
const options = (alg) => ({ issuer: input.issuer, audience: input.audience, algorithms: [alg] });
const cases = Object.entries(input.tokens);

// The baseline must do the same work: a valid token verifies, a tampered one does not.
for (const [alg, token] of cases) {
  const { payload } = await jwtVerify(token, JWKS, options(alg));
  if (payload.sub !== input.sub) throw new Error(`${alg}: unexpected sub ${payload.sub}`);
  const [h, p, s] = token.split('.');
  const tampered = `${h}.${p}.${s.startsWith('A') ? 'B' : 'A'}${s.slice(1)}`;
  let refused = false;
  try {
    await jwtVerify(tampered, JWKS, options(alg));
  } catch {
    refused = true;
  }
  if (!refused) throw new Error(`${alg}: tampered token accepted`);
}

function measure(start, cpuStart, n) {
  const cpu = process.cpuUsage(cpuStart);
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  const wallSeconds = (performance.now() - start) / 1000;
  return { n, per_cpu_second: n / cpuSeconds, per_wall_second: n / wallSeconds };
}

async function sequential(alg, token, ms) {
  const opts = options(alg);
  const cpuStart = process.cpuUsage();
  const start = performance.now();
  let n = 0;
  while (performance.now() - start < ms) {
    for (let i = 0; i < 20; i++) {
      await jwtVerify(token, JWKS, opts);
      n++;
    }
  }
  return measure(start, cpuStart, n);
}

async function concurrent(alg, token, ms, concurrency) {
  const opts = options(alg);
  const cpuStart = process.cpuUsage();
  const start = performance.now();
  let n = 0;
  const worker = async () => {
    while (performance.now() - start < ms) {
      await jwtVerify(token, JWKS, opts);
      n++;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return measure(start, cpuStart, n);
}

const modes = {
  sequential: (alg, token) => sequential(alg, token, input.sample_ms),
  concurrent: (alg, token) => concurrent(alg, token, input.sample_ms, input.concurrency),
};

// Warm-up (JIT, key import caches), not recorded.
for (const [alg, token] of cases) {
  for (const run of Object.values(modes)) await run(alg, token);
}

const samples = {};
for (let round = 0; round < input.rounds; round++) {
  for (const [alg, token] of cases) {
    for (const [mode, run] of Object.entries(modes)) {
      const key = `${alg}/${mode}`;
      (samples[key] ??= []).push(await run(alg, token));
    }
  }
}

const require = createRequire(import.meta.url);
const joseVersion = require('jose/package.json').version;
console.log(JSON.stringify({ node: process.version, jose: joseVersion, samples }));
