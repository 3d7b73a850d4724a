// Loading the transpiled component and calling its `repository` export.
//
// Each component is compiled once per process (per memory limit); a
// repository keeps a pool of instances and runs one call at a time on each
// (jco's JSPI glue expects one task in flight per instance). An instance
// that trapped, ran out of memory or out of time is dropped, so the next
// call gets a fresh one.
import { readFile } from 'node:fs/promises';
import { WASIShim } from '@bytecodealliance/preview2-shim/instantiation';
import { ComponentError, InvalidInputError, StorageFailure, sessionError } from './errors.js';
import { FUEL_EXPORT, instrumentLoops } from './fuel.js';
import { leb, readU32 } from './leb128.js';

const GENERATED = new URL('../generated/', import.meta.url);
const PAGE = 65536;
const compiled = new Map();

/** The directory of a transpiled component: a name in generated/ ('guest',
 * the default; 'hostile' for the tests; another build's --out), or a
 * path/URL of another `jco transpile` output. */
export function componentDir(component) {
  if (component === undefined || /^[\w.-]+$/.test(component)) {
    return new URL(`${component ?? 'guest'}/`, GENERATED); // a build in generated/
  }
  const text = String(component);
  return new URL(text.endsWith('/') ? text : `${text}/`, text.startsWith('file:') ? undefined : `file://${process.cwd()}/`);
}

/** Its core modules, compiled with every memory's maximum lowered to `memoryLimit`. */
function compile(dir, memoryLimit) {
  const key = `${dir.href}|${memoryLimit}`;
  let entry = compiled.get(key);
  if (entry === undefined) {
    entry = (async () => {
      const { instantiate } = await import(new URL('component.js', dir).href);
      const modules = new Map();
      for (const name of ['component.core.wasm', 'component.core2.wasm', 'component.core3.wasm']) {
        let bytes;
        try {
          bytes = await readFile(new URL(name, dir));
        } catch (error) {
          if (error.code === 'ENOENT' && name !== 'component.core.wasm') continue;
          throw error;
        }
        if (name === 'component.core.wasm') bytes = instrumentLoops(bytes) ?? bytes;
        modules.set(name, await WebAssembly.compile(limitMemory(bytes, Math.floor(memoryLimit / PAGE))));
      }
      return { instantiate, modules };
    })();
    entry.catch(() => compiled.delete(key));
    compiled.set(key, entry);
  }
  return entry;
}

// ------------------------------------------------------------ memory limit

/** The core module with each memory it defines given a maximum of at most
 * `maxPages` (or its minimum, if larger): `memory.grow` past it fails, and
 * the guest's allocator traps instead of taking the machine's memory. */
export function limitMemory(bytes, maxPages) {
  const parts = [bytes.subarray(0, 8)];
  let at = 8;
  while (at < bytes.length) {
    const id = bytes[at];
    const [size, start] = readU32(bytes, at + 1);
    const end = start + size;
    if (id !== 5) {
      parts.push(bytes.subarray(at, end));
    } else {
      let [count, p] = readU32(bytes, start);
      const body = leb(count);
      for (let i = 0; i < count; i++) {
        const flags = bytes[p++];
        if (flags & 0x04) return bytes; // memory64: leave it alone
        let min, max;
        [min, p] = readU32(bytes, p);
        if (flags & 0x01) [max, p] = readU32(bytes, p);
        const limit = Math.max(min, Math.min(max ?? Infinity, maxPages));
        body.push(flags | 0x01, ...leb(min), ...leb(limit));
      }
      parts.push(Uint8Array.of(5, ...leb(body.length), ...body));
    }
    at = end;
  }
  return Buffer.concat(parts);
}

// ------------------------------------------------------------ instances

/** The imports of one instance; `kv` must never throw (a throw leaks into
 * the guest and eventually corrupts the instance). */
function imports(kv, settings, state) {
  const wasi = new WASIShim({ environment: {}, arguments: [], sandbox: { preopens: {}, enableNetwork: false } })
    .getImportObject();
  const bound = {};
  for (const [name, value] of Object.entries(wasi)) bound[name.replace(/@[^@]*$/, '')] = value;
  const guard = (fn) => async (keys, batch) => {
    try {
      return await fn(keys, batch);
    } catch (error) {
      const failure = error instanceof StorageFailure
        ? { kind: error.kind, message: error.message }
        : { kind: 'other', message: `the JavaScript kv host failed: ${error?.name ?? 'Error'}: ${error?.message ?? error}` };
      // How jco's glue (1.11 and 1.35 alike) takes an import's `err`: a
      // thrown non-Error with `payload`. A thrown Error would pass through
      // the guest and out of the export instead.
      throw { payload: failure };
    } finally {
      if (state.fuel !== null) state.fuel.value = state.budget; // a new stretch of guest code
    }
  };
  // No environment, arguments or working directory (the shim would hand
  // over process.env), no preopened files, no network.
  bound['wasi:cli/environment'] = { getEnvironment: () => [], getArguments: () => [], initialCwd: () => undefined };
  bound['agent:sessions/config'] = { getSettings: () => settings };
  bound['agent:sessions/kv'] = {
    execute: guard((keys, batch) => kv.execute(keys, batch)),
    executeEach: guard((keys, batches) => kv.executeEach(keys, batches)),
  };
  return bound;
}

export class ComponentRuntime {
  constructor({ component, kv, settings, memoryLimit, fuel, poolSize }) {
    this.dir = componentDir(component);
    this.kv = kv;
    this.settings = settings;
    this.memoryLimit = memoryLimit;
    this.fuel = fuel;
    this.poolSize = poolSize;
    this.idle = [];
    this.live = 0;
    this.waiters = [];
    this.closed = false;
  }

  async instance() {
    const idle = this.idle.pop();
    if (idle !== undefined) return idle;
    if (this.live >= this.poolSize) {
      return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
    }
    this.live++;
    try {
      const { instantiate, modules } = await compile(this.dir, this.memoryLimit);
      const state = { fuel: null, budget: this.fuel };
      const instantiateCore = async (module, importObject) => {
        const instance = await WebAssembly.instantiate(module, importObject);
        if (instance.exports[FUEL_EXPORT] !== undefined) state.fuel = instance.exports[FUEL_EXPORT];
        return instance;
      };
      const root = await instantiate((name) => modules.get(name), imports(this.kv, this.settings, state), instantiateCore);
      return { repository: root.repository, state };
    } catch (error) {
      this.live--;
      this.wake();
      throw new ComponentError(`cannot instantiate the component ${this.dir.pathname}: ${error?.message ?? error}`);
    }
  }

  release(instance) {
    const waiter = this.waiters.shift();
    if (waiter !== undefined) waiter.resolve(instance);
    else this.idle.push(instance);
  }

  /** One instance fewer: let a waiting call make a new one. */
  drop() {
    this.live--;
    this.wake();
  }

  wake() {
    const waiter = this.waiters.shift();
    if (waiter !== undefined) this.instance().then(waiter.resolve, waiter.reject);
  }

  /** Calls the `repository` export `name` (its WIT name, e.g.
   * 'extend-ttl'): its ok value, or throws the SessionError for its error
   * case, or ComponentError for a trap. */
  async call(name, ...args) {
    const instance = await this.instance();
    const exported = instance.repository[jsName(name)];
    if (typeof exported !== 'function') {
      this.release(instance);
      const known = Object.keys(instance.repository).map(witName).join(', ');
      throw new InvalidInputError(`the component exports no ${JSON.stringify(name)}; it exports ${known}`);
    }
    let result;
    const fuel = instance.state.fuel;
    try {
      if (fuel !== null) fuel.value = this.fuel;
      result = await exported(...args);
    } catch (error) {
      if (error?.payload !== undefined && error?.payload?.tag !== undefined) {
        this.release(instance); // the guest returned its error case: the instance is fine
        throw sessionError(error.payload);
      }
      this.drop(); // trapped, out of memory or out of time: its state is undefined
      const outOfFuel = fuel !== null && fuel.value === 0;
      throw new ComponentError(describeFailure(error, outOfFuel, this.fuel, this.memoryLimit));
    }
    this.release(instance);
    return result;
  }

  close() {
    this.closed = true;
    for (const waiter of this.waiters.splice(0)) waiter.reject(new ComponentError('the repository is closed'));
    this.idle.length = 0;
  }
}

const jsNames = new Map();
/** jco's name of a WIT function: 'extend-ttl' -> 'extendTtl'. */
function jsName(name) {
  let js = jsNames.get(name);
  if (js === undefined) {
    js = String(name).replace(/-([a-z0-9])/g, (_, letter) => letter.toUpperCase());
    jsNames.set(name, js);
  }
  return js;
}

function witName(js) {
  return js.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`);
}

function describeFailure(error, outOfFuel, fuel, memoryLimit) {
  const text = String(error?.message ?? error);
  if (outOfFuel) {
    return `the session component ran out of fuel (more than ${fuel} loop iterations without waiting on Redis) and was stopped`;
  }
  if (/unreachable|out of memory|memory allocation/i.test(text)) {
    return `the session component failed (${text}); it may have exceeded its memory limit of ${Math.floor(memoryLimit / 1048576)} MiB`;
  }
  return `the session component failed: ${error?.name ?? 'Error'}: ${text}`;
}
