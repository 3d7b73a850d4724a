// The JavaScript host against the Rust host, side by side on one Redis.
//
// Starts its own redis-server (free port, no persistence) and measures in
// one run:
// 1. Latency at concurrency 1: create, get, update, extend (extendSessionTtl),
//    delete, list (a page of 10 over 100 sessions) and ping, one call at a
//    time, as the bench crate's `host-latency` binary does for the Rust host
//    (same inputs, same order). Rounds alternate JS, Rust, Rust, JS, ... so
//    that a shared machine's noise falls on both; latencies of all rounds
//    are pooled per host and operation before the percentiles. Ratio of p50
//    JS / Rust per operation, target at most 2.
// 2. Throughput at concurrency 32: 32 concurrent tasks on one event loop,
//    each creating `--concurrent-calls` sessions one after the other, then
//    getting them; ops/s over the wall time, per pool size; and the Rust
//    host the same way (`host-latency --concurrency 32`: 32 tasks on one
//    thread), in turns with the JS runs.
//
// Writes everything to target/bench/js.json.
//
//   make bench-js                      (BENCH_QUICK=1 for a short run)
//   js/node_modules/.bin/node js/bench/compare_hosts.mjs --rust-bin target/release/host-latency [--quick]
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, isAbsolute, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { SessionRepository } from '../src/index.js';
import { REPO, freePort, redisServerBinary } from '../test/helpers.js';

const { values: args } = parseArgs({
  options: {
    'rust-bin': { type: 'string', default: 'target/release/host-latency' },
    iterations: { type: 'string' },
    rounds: { type: 'string' },
    warmup: { type: 'string', default: '100' },
    concurrency: { type: 'string', default: '32' },
    'concurrent-calls': { type: 'string' },
    pools: { type: 'string', default: '1,8,32' },
    'alt-component': { type: 'string' },
    quick: { type: 'boolean', default: false },
    output: { type: 'string', default: 'target/bench/js.json' },
  },
});
const quick = args.quick;
const ITERATIONS = Number(args.iterations ?? (quick ? 300 : 1000));
const ROUNDS = Number(args.rounds ?? (quick ? 2 : 4));
const WARMUP = Number(args.warmup);
const CONCURRENCY = Number(args.concurrency);
const CONCURRENT_CALLS = Number(args['concurrent-calls'] ?? (quick ? 50 : 100));
const POOLS = args.pools.split(',').map(Number);
const LIST_SESSIONS = 100;
const PAGE = 10;
const OPS = ['create', 'get', 'update', 'extend', 'delete', 'list', 'ping'];
const JCO_VERSION = JSON.parse(readFileSync(new URL('../node_modules/@bytecodealliance/jco/package.json', import.meta.url), 'utf8')).version;
const fromRepo = (path) => (isAbsolute(path) ? path : resolve(REPO, path));
const rustBin = fromRepo(args['rust-bin']);
if (!existsSync(rustBin)) {
  console.error(`${rustBin} not found: cargo build --release -p agent-sessions-bench --bin host-latency`);
  process.exit(1);
}

// `agent_sessions_bench::paths::example()`, field for field.
const example = () => ({
  model_id: 'gpt-4', persona_id: 'programmer', name: 'Code Review Session', temperature: 0.7, reasoning_effort: 5,
  max_tokens: 2000, tools: ['search', 'code_analysis'], custom_prompt: 'Review the diff for bugs.',
  agent_internal_id: 'agent-54321',
});

async function startRedis() {
  const port = await freePort();
  const child = spawn(redisServerBinary(), ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    { stdio: 'ignore' });
  const url = `redis://127.0.0.1:${port}/0`;
  const probe = new SessionRepository(url);
  for (let i = 0; ; i++) {
    try { await probe.ping(); break; } catch (error) {
      if (i > 500) throw error;
      await new Promise((r) => setTimeout(r, 20));
    }
  }
  await probe.close();
  return { url, stop: () => child.kill('SIGTERM') };
}

async function jsRound(repo, iterations) {
  const out = {};
  const timed = async (op, call) => {
    const samples = new Array(iterations);
    const trips = repo.roundTrips;
    const loopStarted = process.hrtime.bigint();
    for (let n = 0; n < iterations; n++) {
      const started = process.hrtime.bigint();
      await call(n);
      samples[n] = Number(process.hrtime.bigint() - started);
    }
    out[op] = { samples, elapsed: Number(process.hrtime.bigint() - loopStarted) / 1e9, trips: repo.roundTrips - trips };
  };
  const ids = [];
  await timed('create', async () => { ids.push((await repo.createSession(example())).id); });
  await timed('get', async (n) => {
    const s = await repo.getSession(ids[n % ids.length]);
    if (s?.id !== ids[n % ids.length]) throw new Error('get: no such session');
  });
  await timed('update', async (n) => { await repo.updateSession(ids[n % ids.length], { name: `renamed ${n}` }); });
  await timed('extend', async (n) => { if (!(await repo.extendSessionTtl(ids[n % ids.length]))) throw new Error('extend'); });
  await timed('delete', async (n) => { if (!(await repo.deleteSession(ids[n % ids.length]))) throw new Error('delete'); });
  const fixture = [];
  for (let i = 0; i < LIST_SESSIONS; i++) fixture.push((await repo.createSession(example())).id);
  await timed('list', async (n) => {
    const offset = (n % (LIST_SESSIONS / PAGE)) * PAGE;
    const page = await repo.listSessions(PAGE, offset);
    if (page.sessions.length !== PAGE) throw new Error(`a page of ${page.sessions.length}`);
  });
  for (const id of fixture) await repo.deleteSession(id);
  await timed('ping', async () => { await repo.ping(); });
  out.ping.trips = iterations;
  return out;
}

function rustRound(url, iterations) {
  const done = spawnSync(rustBin, ['--redis-url', url, '--iterations', String(iterations), '--warmup', String(WARMUP),
    '--json', '--samples'], { encoding: 'utf8', maxBuffer: 1 << 28 });
  if (done.status !== 0) throw new Error(`host-latency failed (${done.status}): ${done.stderr}`);
  const report = JSON.parse(done.stdout);
  const out = {};
  for (const m of report.ops) out[m.op] = { samples: m.samples_ns, elapsed: m.elapsed_s, trips: Math.round(m.round_trips * m.ops) };
  return out;
}

function rustThroughput(url) {
  const done = spawnSync(rustBin, ['--redis-url', url, '--concurrency', String(CONCURRENCY), '--iterations',
    String(CONCURRENT_CALLS), '--warmup', '10'], { encoding: 'utf8' });
  if (done.status !== 0) throw new Error(`host-latency --concurrency failed (${done.status}): ${done.stderr}`);
  return JSON.parse(done.stdout);
}

function percentile(sorted, q) {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

function summarize(pooled) {
  const result = {};
  for (const op of OPS) {
    const { samples, elapsed, trips } = pooled[op];
    const sorted = [...samples].sort((a, b) => a - b);
    const mean = samples.reduce((a, b) => a + b, 0) / samples.length;
    result[op] = {
      ops: samples.length, p50_us: percentile(sorted, 0.5) / 1e3, p99_us: percentile(sorted, 0.99) / 1e3,
      mean_us: mean / 1e3, ops_per_s: samples.length / elapsed, round_trips: trips / samples.length,
    };
  }
  return result;
}

function pool(into, round) {
  for (const op of OPS) {
    const entry = into[op] ?? (into[op] = { samples: [], elapsed: 0, trips: 0 });
    entry.samples.push(...round[op].samples);
    entry.elapsed += round[op].elapsed;
    entry.trips += round[op].trips;
  }
}

async function throughput(url, poolSize, component) {
  const repo = new SessionRepository(url, { poolSize, component });
  try {
    // Warm up every instance of the pool.
    await Promise.all(Array.from({ length: CONCURRENCY }, () => repo.ping().then(() => repo.listSessions(1))));
    const started = process.hrtime.bigint();
    const ids = await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
      const mine = [];
      for (let i = 0; i < CONCURRENT_CALLS; i++) mine.push((await repo.createSession(example())).id);
      return mine;
    }));
    const created = process.hrtime.bigint();
    await Promise.all(ids.map(async (mine) => {
      for (const id of mine) if ((await repo.getSession(id)) === null) throw new Error('get: missing');
    }));
    const got = process.hrtime.bigint();
    const calls = CONCURRENCY * CONCURRENT_CALLS;
    for (const mine of ids) for (const id of mine) await repo.deleteSession(id);
    return {
      pool_size: poolSize, concurrency: CONCURRENCY, calls_per_op: calls,
      create_ops_per_s: calls / (Number(created - started) / 1e9), get_ops_per_s: calls / (Number(got - created) / 1e9),
    };
  } finally {
    await repo.close();
  }
}

const server = await startRedis();
try {
  const repo = new SessionRepository(server.url);
  const alt = args['alt-component'] ? new SessionRepository(server.url, { component: args['alt-component'] }) : null;
  // Warm-up: the JIT and the pool, as host-latency warms up itself.
  await jsRound(repo, WARMUP);
  if (alt) await jsRound(alt, WARMUP);
  const pooledJs = {}, pooledRust = {}, pooledAlt = {};
  const hosts = alt ? ['js', 'rust', 'alt'] : ['js', 'rust'];
  for (let round = 0; round < ROUNDS; round++) {
    const order = round % 2 === 0 ? hosts : [...hosts].reverse();
    for (const host of order) {
      if (host === 'js') pool(pooledJs, await jsRound(repo, ITERATIONS));
      else if (host === 'alt') pool(pooledAlt, await jsRound(alt, ITERATIONS));
      else pool(pooledRust, rustRound(server.url, ITERATIONS));
      process.stderr.write(`round ${round + 1}/${ROUNDS}: ${host} done\n`);
    }
  }
  await repo.close();
  await alt?.close();
  const js = summarize(pooledJs), rust = summarize(pooledRust);
  const altResult = alt ? summarize(pooledAlt) : null;
  const ratios = {};
  for (const op of OPS) ratios[op] = { js_over_rust_p50: js[op].p50_us / rust[op].p50_us, target: 2, met: js[op].p50_us <= 2 * rust[op].p50_us };
  const concurrent = [];
  const concurrentRust = [];
  for (const size of POOLS) {
    concurrent.push(await throughput(server.url, size));
    concurrentRust.push(rustThroughput(server.url));
  }
  const mean = (key) => concurrentRust.reduce((sum, r) => sum + r[key], 0) / concurrentRust.length;
  const rustConcurrent = { create_ops_per_s: mean('create_ops_per_s'), get_ops_per_s: mean('get_ops_per_s'), runs: concurrentRust.length };
  const concurrentAlt = [];
  if (alt) for (const size of POOLS) concurrentAlt.push(await throughput(server.url, size, args['alt-component']));

  console.log(`\nLatency at concurrency 1 (µs; ${ROUNDS} rounds x ${ITERATIONS} calls per host, alternating)`);
  console.log('op       JS p50    JS p99  Rust p50  Rust p99  JS/Rust p50 (target <= 2)');
  for (const op of OPS) {
    console.log(`${op.padEnd(7)} ${js[op].p50_us.toFixed(0).padStart(7)} ${js[op].p99_us.toFixed(0).padStart(8)} ${rust[op].p50_us.toFixed(0).padStart(8)} ${rust[op].p99_us.toFixed(0).padStart(9)}  ${ratios[op].js_over_rust_p50.toFixed(2).padStart(6)} ${ratios[op].met ? 'met' : 'MISSED'}`);
  }
  if (altResult) {
    console.log(`\nThe same with the component from generated/${args['alt-component']} (µs)`);
    console.log('op      alt p50   alt p99  alt/Rust p50');
    for (const op of OPS) {
      console.log(`${op.padEnd(7)} ${altResult[op].p50_us.toFixed(0).padStart(7)} ${altResult[op].p99_us.toFixed(0).padStart(9)}  ${(altResult[op].p50_us / rust[op].p50_us).toFixed(2).padStart(6)}`);
    }
  }
  console.log(`\nThroughput at concurrency ${CONCURRENCY} (${CONCURRENT_CALLS} calls per task and op)`);
  console.log('build   pool  create/s    get/s');
  console.log(`${'rust'.padEnd(7)} ${'-'.padStart(4)} ${rustConcurrent.create_ops_per_s.toFixed(0).padStart(9)} ${rustConcurrent.get_ops_per_s.toFixed(0).padStart(8)}  (mean of ${rustConcurrent.runs} runs between the JS ones)`);
  for (const [name, list] of [['default', concurrent], ['alt', concurrentAlt]]) {
    for (const c of list) console.log(`${name.padEnd(7)} ${String(c.pool_size).padStart(4)} ${c.create_ops_per_s.toFixed(0).padStart(9)} ${c.get_ops_per_s.toFixed(0).padStart(8)}`);
  }

  const output = fromRepo(args.output);
  mkdirSync(dirname(output), { recursive: true });
  writeFileSync(output, `${JSON.stringify({
    when: new Date().toISOString(), node: process.version, cpus: cpus().length, cpu: cpus()[0]?.model,
    rounds: ROUNDS, iterations: ITERATIONS, warmup: WARMUP, rust_bin: rustBin,
    hosts: { js: `SessionRepository (js/, jco ${JCO_VERSION} JSPI, node-redis)`, rust: 'the Rust host through host-latency' },
    latency: { js, rust, ...(altResult ? { alt: altResult } : {}) }, ratios, concurrent, concurrent_rust: rustConcurrent,
    ...(altResult ? { alt_component: args['alt-component'], concurrent_alt: concurrentAlt } : {}),
  }, null, 2)}\n`);
  console.log(`\nwrote ${output}`);
} finally {
  server.stop();
}
