// LEB128, the integer encoding of the wasm binary format, for the load-time
// rewrites of the core module (fuel.js, runtime.js's memory limit).

/** The unsigned integer at `p` in `b`, and the position after it. */
export function readU32(b, p) {
  let value = 0, shift = 0, byte;
  do {
    byte = b[p++];
    value += (byte & 0x7f) * 2 ** shift;
    shift += 7;
  } while (byte & 0x80);
  return [value, p];
}

/** `value` (unsigned) as LEB128 bytes. */
export function leb(value) {
  const out = [];
  do {
    let byte = value % 128;
    value = Math.floor(value / 128);
    if (value > 0) byte |= 0x80;
    out.push(byte);
  } while (value > 0);
  return out;
}
