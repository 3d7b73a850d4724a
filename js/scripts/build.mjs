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
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
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
// The host binds this interface of the component's imports to Redis: its
// functions wait on the network, so JSPI suspends the guest there.
const STORAGE_INTERFACE = 'kv';

/** The `--async-exports` and `--async-imports` of jco for a component,
 * learned from the component: every function of every interface it
 * exports (each may reach storage) and every function of its storage
 * interface, versioned as it names them ('agent:sessions/kv@0.5.0#execute').
 * `jco wit` names the world's interfaces; jco 1.11 prints no functions
 * there, so they are read from the typings of a plain transpile. */
function asyncNames(wasm) {
  const world = execFileSync(process.execPath, [jco, 'wit', wasm], { encoding: 'utf8', maxBuffer: 64 << 20 });
  const used = (kind) => [...world.matchAll(new RegExp(`^\\s*${kind}\\s+([\\w.-]+:[\\w.-]+/[\\w.@-]+);`, 'gm'))].map((m) => m[1]);
  const functions = new Map();
  const typings = mkdtempSync(join(tmpdir(), 'agent-sessions-typings-'));
  try {
    execFileSync(process.execPath, [jco, 'transpile', wasm, '-o', typings, '--name', 'component',
      '--instantiation', 'async', '--quiet'], { stdio: 'inherit' });
    for (const file of readdirSync(join(typings, 'interfaces'))) {
      const text = readFileSync(join(typings, 'interfaces', file), 'utf8');
      const name = /@module Interface (\S+)/.exec(text)?.[1];
      // `export function getItems(`, or `export { _delete as delete };` for a reserved word.
      const found = [...text.matchAll(/^export (?:declare )?function (\w+)\(|^export \{ \w+ as (\w+) \};/gm)];
      if (name !== undefined) functions.set(name, found.map((m) => witName(m[1] ?? m[2])));
    }
  } finally {
    rmSync(typings, { recursive: true, force: true });
  }
  const named = (iface) => (functions.get(iface) ?? []).map((name) => `${iface}#${name}`);
  const storage = used('import').filter((iface) => iface.split('/')[1].split('@')[0] === STORAGE_INTERFACE);
  const result = { exports: used('export').flatMap(named), imports: storage.flatMap(named) };
  if (result.exports.length === 0) throw new Error(`cannot tell the exported functions of ${wasm}:\n${world}`);
  return result;
}

/** jco's camelCase name as WIT spells it: 'extendTtl' -> 'extend-ttl'. */
function witName(js) {
  return js.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`);
}

function transpile(wasm, name) {
  const out = join(pkg, 'generated', name);
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  const args = [jco, 'transpile', wasm, '-o', out, '--name', 'component', '--instantiation', 'async',
    '--async-mode', 'jspi', '--quiet'];
  const asynchronous = asyncNames(wasm);
  for (const name of asynchronous.imports) args.push('--async-imports', name);
  for (const name of asynchronous.exports) args.push('--async-exports', name);
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
