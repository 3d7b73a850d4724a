// Makes jco's generated glue cheaper without changing what it does: its
// `_debugLog` (about 200 call sites, several per component call) reads
// process.env.JCO_DEBUG on every call, a lookup in the C++ environment.
// It is read once, when the module loads, instead. Measured on a `get`
// (bench/README in the repository README): about a quarter less CPU per call.
// Returns the new text, or null when the glue no longer has that shape (a
// newer jco): then it is used as generated.
const DEFINITION = /const _debugLog = \(\.\.\.args\) => \{\n\s*if \(!globalThis\?\.process\?\.env\?\.JCO_DEBUG\) \{ return; \}\n\s*console\.debug\(\.\.\.args\);\n\s*\};/;

export function leanGlue(text) {
  if (!DEFINITION.test(text)) return null;
  return text.replace(DEFINITION, 'const _jcoDebug = Boolean(globalThis?.process?.env?.JCO_DEBUG);\n'
    + '  const _debugLog = _jcoDebug ? (...args) => { console.debug(...args); } : () => {};');
}
