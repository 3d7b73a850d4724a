// Transpiles the built component(s) with jco into generated/ (never committed).
//
//   npm run build                      from js/, after the component is built
//   AGENT_SESSIONS_WASM=path npm run build   another agent_sessions_guest.wasm
//
//   node scripts/build.mjs --jco /path/to/jco.js --out guest-jco1.11
//                                      the component through another jco
//                                      (the bench's --alt-component)
//
// generated/guest/   the session component (required)
// generated/hostile/ tests/hostile-guest, a deliberately misbehaving
//                    component the tests use (skipped with a note if absent)
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { leanGlue } from './lean-glue.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const pkg = resolve(here, '..');
const repo = resolve(pkg, '..');
const release = join(repo, 'target', 'component', 'wasm32-wasip2', 'release');
const guest = process.env.AGENT_SESSIONS_WASM ?? join(release, 'agent_sessions_guest.wasm');
const hostile = process.env.AGENT_SESSIONS_HOSTILE_WASM ?? join(dirname(guest), 'hostile_guest.wasm');
const { values: options } = parseArgs({ options: { jco: { type: 'string' }, out: { type: 'string' } } });
// jco 1.11 ships its CLI as src/jco.js, later versions as dist/jco.js.
const jcoPackage = join(pkg, 'node_modules', '@bytecodealliance', 'jco');
const jco = options.jco ?? [join(jcoPackage, 'src', 'jco.js'), join(jcoPackage, 'dist', 'jco.js')].find(existsSync);
// Every export that can reach a kv import, i.e. all the host calls (named:
// older jco versions take no '*').
const ASYNC_EXPORTS = ['create', 'get', 'update', 'delete', 'list', 'extend-ttl', 'cleanup-expired', 'check-layout',
  'reindex', 'stats', 'append-items', 'get-items', 'pop-item', 'clear-items', 'list-by-owner', 'delete-with']
  .map((name) => `agent:sessions/repository@0.5.0#${name}`);
// Every kv import can wait on Redis: JSPI suspends the guest there. Both
// names, versioned as the component imports them.
const ASYNC_IMPORTS = ['agent:sessions/kv@0.5.0#execute', 'agent:sessions/kv@0.5.0#execute-each'];

function transpile(wasm, name) {
  const out = join(pkg, 'generated', name);
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  const args = [jco, 'transpile', wasm, '-o', out, '--name', 'component', '--instantiation', 'async',
    '--async-mode', 'jspi', '--quiet'];
  for (const name of ASYNC_IMPORTS) args.push('--async-imports', name);
  for (const name of ASYNC_EXPORTS) args.push('--async-exports', name);
  // More transpile options to measure (e.g. --valid-lifting-optimization).
  args.push(...(process.env.AGENT_SESSIONS_JCO_ARGS ?? '').split(' ').filter(Boolean));
  execFileSync(process.execPath, args, { stdio: 'inherit' });
  writeFileSync(join(out, 'package.json'), '{"type":"module"}\n');
  const glue = join(out, 'component.js');
  const lean = process.env.AGENT_SESSIONS_JS_GLUE === 'as-generated' ? null : leanGlue(readFileSync(glue, 'utf8'));
  if (lean !== null) writeFileSync(glue, lean);
  else console.log(`note: ${glue} is used as jco generated it`);
  console.log(`transpiled ${wasm} -> ${out}`);
}

if (!existsSync(guest)) {
  console.error(`${guest} is missing: build the component first (make build, or cargo build --workspace), ` +
    'or set AGENT_SESSIONS_WASM to a built agent_sessions_guest.wasm');
  process.exit(1);
}
if (options.out !== undefined) {
  transpile(guest, options.out);
  process.exit(0);
}
transpile(guest, 'guest');
// The Redis side of kv.execute, shipped with the package.
copyFileSync(join(repo, 'redis', 'kv_batch.lua'), join(pkg, 'generated', 'kv_batch.lua'));
if (existsSync(hostile)) transpile(hostile, 'hostile');
else console.log(`note: ${hostile} is missing; the hostile-component tests will fail until it is built`);
