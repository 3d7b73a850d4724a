// A time limit for guest code on the main thread.
//
// V8 has no fuel or epoch for wasm, and a loop inside the guest blocks the
// event loop, so no timer can fire. A watchdog thread (a Worker) watches a
// shared slot that says since when the guest has been running (the main
// thread sets it when a call enters the guest or a kv wait returns into it,
// and clears it when the call waits on Redis or ends). When the guest has
// run longer than its limit, the watchdog stops the main thread's current
// JavaScript execution through the inspector protocol
// (`Runtime.terminateExecution`, which V8 delivers as an interrupt, also in
// a wasm loop) and tells the main thread which call it was; that call fails
// with ComponentError and its instance is dropped.
import { Worker } from 'node:worker_threads';

// [0] call id running (0: none), [1] limit in ms, [2..3] started (ms, float64 view)
const shared = new SharedArrayBuffer(32);
const ints = new Int32Array(shared, 0, 2);
const started = new Float64Array(shared, 8, 1);
const pending = new Map();
let worker = null;
let nextId = 1;
let users = 0;

/** Runtimes using the watchdog; the thread runs while there is one. */
export function acquireWatchdog() {
  users++;
}

export function releaseWatchdog() {
  users = Math.max(0, users - 1);
  if (users === 0 && worker !== null) {
    const stopping = worker;
    worker = null;
    stopping.terminate();
  }
}

const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const { Session } = require('node:inspector');
const ints = new Int32Array(workerData, 0, 2);
const started = new Float64Array(workerData, 8, 1);
const session = new Session();
session.connectToMainThread();
const clock = () => performance.timeOrigin + performance.now();
setInterval(() => {
  const id = Atomics.load(ints, 0);
  if (id === 0) return;
  if (clock() - started[0] < Atomics.load(ints, 1)) return;
  if (Atomics.compareExchange(ints, 0, id, 0) !== id) return; // it moved on meanwhile
  session.post('Runtime.terminateExecution', () => {});
  parentPort.postMessage(id);
}, 25);
`;

function ensureWorker() {
  if (worker !== null) return;
  worker = new Worker(WORKER, { eval: true, workerData: shared });
  worker.unref();
  worker.on('message', (id) => {
    const call = pending.get(id);
    if (call !== undefined) {
      pending.delete(id);
      call.reject();
    }
  });
  worker.on('error', () => { worker = null; });
}

const clock = () => performance.timeOrigin + performance.now();

/** A call under the time limit: `enter()` when it (re)enters the guest,
 * `leave()` when it waits on Redis or ends; `stopped` rejects if the
 * watchdog stopped it. */
export function watch(limitMs) {
  ensureWorker();
  const id = nextId++;
  if (nextId > 0x7ffffff0) nextId = 1;
  let reject;
  const stopped = new Promise((_, r) => { reject = r; });
  stopped.catch(() => {});
  pending.set(id, { reject: () => reject(new Error('time limit')) });
  return {
    id,
    stopped,
    enter() {
      started[0] = clock();
      Atomics.store(ints, 1, limitMs);
      Atomics.store(ints, 0, id);
    },
    leave() {
      Atomics.compareExchange(ints, 0, id, 0);
    },
    done() {
      Atomics.compareExchange(ints, 0, id, 0);
      pending.delete(id);
    },
  };
}
