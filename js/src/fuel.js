// A bound on guest time for the main thread: fuel.
//
// V8 has no fuel or epoch interruption for wasm, a loop in the guest blocks
// the event loop (no timer can fire), and stopping the main thread from
// outside (the inspector's Runtime.terminateExecution) can abort Node. So
// the guest's core module is instrumented when it is loaded: a mutable i32
// global, exported as `agent_sessions_fuel`, is decremented at every loop
// header and the guest traps (`unreachable`) when it reaches 0. The host
// refills it when a call enters the guest and when a kv wait returns into
// it, so the budget is loop iterations per stretch of guest code between
// Redis round trips. Each check is a handful of wasm instructions, no call.
//
// The decoder knows the opcodes a Rust wasm32-wasip2 build emits (MVP,
// sign extension, saturating conversions, bulk memory, reference types);
// on anything else (SIMD, exceptions, ...) it leaves the module as it was
// and `instrumentLoops` returns null.
import { leb, readU32 } from './leb128.js';

export const FUEL_EXPORT = 'agent_sessions_fuel';

function skipLeb(b, p) {
  while (b[p] & 0x80) p++;
  return p + 1;
}

function section(id, body) {
  return Buffer.concat([Buffer.from([id, ...leb(body.length)]), Buffer.from(body)]);
}

class Unsupported extends Error {}

function skipBlockType(b, p) {
  const t = b[p];
  if (t === 0x40 || (t >= 0x6f && t <= 0x7f)) return p + 1;
  return skipLeb(b, p); // a type index (s33)
}

/** One function body with the fuel check after every `loop`. */
function instrumentBody(b, start, end, check) {
  const out = [];
  let p = start;
  let [localGroups, q] = readU32(b, p);
  for (let i = 0; i < localGroups; i++) {
    q = skipLeb(b, q); // count
    q += 1; // valtype
  }
  out.push(b.subarray(start, q));
  p = q;
  let from = p;
  while (p < end) {
    const op = b[p++];
    if (op <= 0x01 || op === 0x05 || op === 0x0b || op === 0x0f || op === 0x1a || op === 0x1b || op === 0xd1
      || (op >= 0x45 && op <= 0xc4)) continue;
    if (op === 0x02 || op === 0x04) { p = skipBlockType(b, p); continue; }
    if (op === 0x03) {
      p = skipBlockType(b, p);
      out.push(b.subarray(from, p), check);
      from = p;
      continue;
    }
    if (op === 0x0c || op === 0x0d || op === 0x10 || op === 0x12 || (op >= 0x20 && op <= 0x26) || op === 0xd2
      || op === 0x3f || op === 0x40) { p = skipLeb(b, p); continue; }
    if (op === 0x0e) {
      let n;
      [n, p] = readU32(b, p);
      for (let i = 0; i <= n; i++) p = skipLeb(b, p);
      continue;
    }
    if (op === 0x11 || op === 0x13) { p = skipLeb(b, skipLeb(b, p)); continue; }
    if (op === 0x1c) { let n; [n, p] = readU32(b, p); p += n; continue; }
    if (op >= 0x28 && op <= 0x3e) {
      let align;
      [align, p] = readU32(b, p);
      if (align & 0x40) p = skipLeb(b, p); // memory index
      p = skipLeb(b, p); // offset
      continue;
    }
    if (op === 0x41 || op === 0x42) { p = skipLeb(b, p); continue; }
    if (op === 0x43) { p += 4; continue; }
    if (op === 0x44) { p += 8; continue; }
    if (op === 0xd0) { p += 1; continue; }
    if (op === 0xfc) {
      let sub;
      [sub, p] = readU32(b, p);
      if (sub <= 7) continue;
      if (sub === 8 || sub === 10 || sub === 12 || sub === 14) { p = skipLeb(b, skipLeb(b, p)); continue; }
      if (sub === 9 || sub === 11 || sub === 13 || (sub >= 15 && sub <= 17)) { p = skipLeb(b, p); continue; }
    }
    throw new Unsupported(`opcode 0x${op.toString(16)}`);
  }
  if (p !== end) throw new Unsupported('a function body ended mid-instruction');
  out.push(b.subarray(from, end));
  const body = Buffer.concat(out);
  return Buffer.concat([Buffer.from(leb(body.length)), body]);
}

/** The module with fuel checks in every loop and the fuel global exported,
 * or null when it cannot be instrumented. */
export function instrumentLoops(bytes) {
  const b = bytes;
  try {
    // First pass: where the sections are, and how many globals are imported.
    const sections = [];
    let p = 8;
    while (p < b.length) {
      const id = b[p];
      const [size, start] = readU32(b, p + 1);
      sections.push({ id, start, end: start + size, from: p });
      p = start + size;
    }
    const find = (id) => sections.find((s) => s.id === id);
    let importedGlobals = 0;
    const imports = find(2);
    if (imports) {
      let [count, q] = readU32(b, imports.start);
      for (let i = 0; i < count; i++) {
        for (let j = 0; j < 2; j++) { let n; [n, q] = readU32(b, q); q += n; } // module, name
        const kind = b[q++];
        if (kind === 0x00) q = skipLeb(b, q);
        else if (kind === 0x01) { q += 1; const flags = b[q++]; q = skipLeb(b, q); if (flags & 1) q = skipLeb(b, q); }
        else if (kind === 0x02) { const flags = b[q++]; q = skipLeb(b, q); if (flags & 1) q = skipLeb(b, q); }
        else if (kind === 0x03) { q += 2; importedGlobals++; }
        else throw new Unsupported(`import kind ${kind}`);
      }
    }
    const globals = find(6);
    const exports = find(7);
    const code = find(10);
    if (!globals || !exports || !code) throw new Unsupported('no global, export or code section');
    const [definedGlobals, globalsBody] = readU32(b, globals.start);
    const index = importedGlobals + definedGlobals;
    // global.get/set of the new global, and the check.
    const idx = leb(index);
    const check = Buffer.from([
      0x23, ...idx, 0x45, 0x04, 0x40, 0x00, 0x0b, // if (fuel == 0) unreachable
      0x23, ...idx, 0x41, 0x01, 0x6b, 0x24, ...idx, // fuel -= 1
    ]);
    const newGlobals = section(6, Buffer.concat([
      Buffer.from(leb(definedGlobals + 1)), b.subarray(globalsBody, globals.end),
      Buffer.from([0x7f, 0x01, 0x41, ...leb(0x7fffffff).slice(0, 4), 0x07, 0x0b]),
    ]));
    const [exportCount, exportsBody] = readU32(b, exports.start);
    const name = Buffer.from(FUEL_EXPORT);
    const newExports = section(7, Buffer.concat([
      Buffer.from(leb(exportCount + 1)), b.subarray(exportsBody, exports.end),
      Buffer.from([...leb(name.length)]), name, Buffer.from([0x03, ...idx]),
    ]));
    let [functions, q] = readU32(b, code.start);
    const bodies = [Buffer.from(leb(functions))];
    for (let i = 0; i < functions; i++) {
      let size;
      [size, q] = readU32(b, q);
      bodies.push(instrumentBody(b, q, q + size, check));
      q += size;
    }
    const newCode = section(10, Buffer.concat(bodies));
    const parts = [b.subarray(0, 8)];
    for (const s of sections) {
      if (s.id === 6) parts.push(newGlobals);
      else if (s.id === 7) parts.push(newExports);
      else if (s.id === 10) parts.push(newCode);
      else parts.push(b.subarray(s.from, s.end));
    }
    return Buffer.concat(parts);
  } catch (error) {
    if (error instanceof Unsupported) return null;
    throw error;
  }
}
