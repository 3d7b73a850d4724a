// The examples of js/README.md (the package's page) run: every ```js block
// is a module of its own, run by this Node in a child process from a
// directory where `agent-sessions` is this package (a link to js/, so its
// package.json "exports" are what resolve), with the README's Redis URL
// replaced by a throwaway redis-server's. Blocks that are not meant to run
// (install commands) use another fence language (`sh`).
//
// The Express example is served and called over HTTP. Express is not a
// dependency of the package, so `express` resolves to a small stand-in of
// the calls the example makes (routes with :params, express.json(), error
// middleware, res.status().json(), listen); what is tested is the
// package's part: its methods, errors and their kinds against real Redis.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { REPO, RedisServer, freePort } from './helpers.js';

/** The one Redis URL the examples may name; the test swaps in its own server's. */
const README_REDIS_URL = 'redis://127.0.0.1:6379/0';

function jsBlocks() {
  const markdown = readFileSync(join(REPO, 'js', 'README.md'), 'utf8');
  return [...markdown.matchAll(/^```js\n([\s\S]*?)^```$/gm)].map((match) => ({
    line: markdown.slice(0, match.index).split('\n').length,
    code: match[1],
  }));
}

const EXPRESS_STAND_IN = `
import { createServer } from 'node:http';

function pathParams(pattern, path) {
  const want = pattern.split('/'), got = path.split('/');
  if (want.length !== got.length) return null;
  const params = {};
  for (let i = 0; i < want.length; i++) {
    if (want[i].startsWith(':')) params[want[i].slice(1)] = decodeURIComponent(got[i]);
    else if (want[i] !== got[i]) return null;
  }
  return params;
}

export default function express() {
  const layers = [];
  const app = {
    use(handler) { layers.push({ handler }); return app; },
    listen(port, callback) {
      return createServer((request, response) => handle(request, response)).listen(port, '127.0.0.1', callback);
    },
  };
  for (const method of ['get', 'post', 'patch', 'put', 'delete']) {
    app[method] = (path, handler) => { layers.push({ method: method.toUpperCase(), path, handler }); return app; };
  }
  function handle(request, response) {
    const url = new URL(request.url, 'http://localhost');
    const req = { method: request.method, path: url.pathname, query: Object.fromEntries(url.searchParams),
      params: {}, body: undefined, request };
    const res = {
      statusCode: 200,
      status(code) { this.statusCode = code; return this; },
      json(value) {
        response.writeHead(this.statusCode, { 'content-type': 'application/json' });
        response.end(JSON.stringify(value));
        return this;
      },
    };
    let index = 0;
    const next = (error) => {
      while (index < layers.length) {
        const layer = layers[index++];
        const handlesErrors = layer.handler.length === 4;
        if (layer.method === undefined) {
          if (error !== undefined && handlesErrors) return layer.handler(error, req, res, next);
          if (error === undefined && !handlesErrors) return layer.handler(req, res, next);
          continue;
        }
        if (error !== undefined || layer.method !== req.method) continue;
        const params = pathParams(layer.path, req.path);
        if (params === null) continue;
        req.params = params;
        return layer.handler(req, res, next);
      }
      return res.status(error === undefined ? 404 : 500).json({ message: String(error ?? 'no route') });
    };
    next();
  }
  return app;
}

express.json = () => (req, res, next) => {
  const chunks = [];
  req.request.on('data', (chunk) => chunks.push(chunk));
  req.request.on('end', () => {
    const text = Buffer.concat(chunks).toString('utf8');
    req.body = text === '' ? {} : JSON.parse(text);
    next();
  });
};
`;

/** Runs `file` with this Node; resolves to { code, stdout, stderr } when it exits. */
function run(file, cwd, env = {}) {
  const child = spawn(process.execPath, [file], { cwd, env: { ...process.env, ...env } });
  const output = { stdout: '', stderr: '' };
  child.stdout.on('data', (data) => { output.stdout += data; });
  child.stderr.on('data', (data) => { output.stderr += data; });
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal, ...output })));
  return { child, output, exited };
}

/** Resolves once the child's stdout holds `text`; rejects if it exits first. */
function printed(running, text) {
  return new Promise((resolve, reject) => {
    const look = () => {
      if (running.output.stdout.includes(text)) {
        running.child.stdout.off('data', look);
        resolve();
      }
    };
    running.child.stdout.on('data', look);
    look();
    running.exited.then((result) => reject(new Error(`exited before printing "${text}":\n${result.stderr}`)));
  });
}

describe('js/README.md examples', () => {
  const blocks = jsBlocks();
  let server, dir;

  before(async () => {
    server = await RedisServer.start();
    dir = mkdtempSync(join(tmpdir(), 'agent-sessions-readme-'));
    mkdirSync(join(dir, 'node_modules', 'express'), { recursive: true });
    symlinkSync(join(REPO, 'js'), join(dir, 'node_modules', 'agent-sessions'), 'dir');
    writeFileSync(join(dir, 'node_modules', 'express', 'package.json'),
      JSON.stringify({ name: 'express', type: 'module', main: 'index.js' }));
    writeFileSync(join(dir, 'node_modules', 'express', 'index.js'), EXPRESS_STAND_IN);
  });
  after(async () => {
    await server?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const write = (block) => {
    const file = join(dir, `example-${block.line}.mjs`);
    writeFileSync(file, block.code.replaceAll(README_REDIS_URL, server.url));
    return file;
  };
  const failure = (block, result) => `js/README.md:${block.line} failed (exit ${result.code}, signal ${result.signal}):\n`
    + `--- stdout\n${result.stdout}\n--- stderr\n${result.stderr}`;

  test('the README has an example, an Express service and error handling, naming one Redis URL', () => {
    const code = blocks.map((block) => block.code).join('\n');
    for (const shown of ["from 'agent-sessions'", "from 'express'", 'appendItems(', 'SessionNotFoundError']) {
      assert.ok(code.includes(shown), `no js block of js/README.md has ${shown}`);
    }
    for (const block of blocks) {
      const others = block.code.replaceAll(README_REDIS_URL, '').match(/rediss?:\/\/[^\s'"`]+/g);
      assert.equal(others, null, `js/README.md:${block.line}: use ${README_REDIS_URL}`);
    }
  });

  for (const block of blocks.filter((b) => !b.code.includes("from 'express'"))) {
    test(`the example at line ${block.line} runs`, { timeout: 120_000 }, async () => {
      const result = await run(write(block), dir).exited;
      assert.equal(result.code, 0, failure(block, result));
    });
  }

  for (const block of blocks.filter((b) => b.code.includes("from 'express'"))) {
    test(`the Express service at line ${block.line} serves sessions and stops on SIGTERM`, { timeout: 120_000 },
      async () => {
        const port = await freePort();
        const running = run(write(block), dir, { PORT: String(port) });
        try {
          await printed(running, `listening on ${port}`);
          const call = async (method, path, body) => {
            const response = await fetch(`http://127.0.0.1:${port}${path}`, {
              method,
              headers: body === undefined ? {} : { 'content-type': 'application/json' },
              body: body === undefined ? undefined : JSON.stringify(body),
            });
            return { status: response.status, body: await response.json() };
          };
          const created = await call('POST', '/sessions', { model_id: 'gpt-4', tools: ['search'] });
          assert.equal(created.status, 201);
          assert.equal(created.body.version, 1);
          const id = created.body.id;
          assert.deepEqual(await call('GET', `/sessions/${id}`), { status: 200, body: created.body });
          const patched = await call('PATCH', `/sessions/${id}`, { name: 'Review', expected_version: 1 });
          assert.equal(patched.status, 200);
          assert.equal(patched.body.version, 2);
          const stale = await call('PATCH', `/sessions/${id}`, { name: 'x', expected_version: 1 });
          assert.deepEqual([stale.status, stale.body.kind], [409, 'conflict']);
          const invalid = await call('POST', '/sessions', { model_id: 'gpt-4', temperature: 9 });
          assert.deepEqual([invalid.status, invalid.body.kind], [400, 'invalid_input']);
          const missing = await call('GET', '/sessions/no-such-session');
          assert.deepEqual([missing.status, missing.body.kind], [404, 'not_found']);
          const page = await call('GET', '/sessions?limit=5');
          assert.deepEqual([page.status, page.body.total, page.body.sessions[0].id], [200, 1, id]);
          // The example's prefix keeps its keys apart from the other examples'.
          const client = await server.client();
          try {
            assert.equal(await client.exists(`app:session:${id}:data`), 1);
          } finally {
            await client.close();
          }
        } finally {
          running.child.kill('SIGTERM');
        }
        const result = await running.exited;
        assert.equal(result.code, 0, failure(block, result));
      });
  }
});
