// Test support: throwaway redis-server processes on free ports (no
// persistence), stopped after. Nothing skips: without redis-server the tests
// fail with an install hint.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { fileURLToPath } from 'node:url';
import { createClient } from 'redis';

export const REPO = fileURLToPath(new URL('../../', import.meta.url));
export const INSTALL_HINT = 'redis-server is not installed: run `make setup` in the repository, or '
  + '`sudo apt-get install -y redis-server` (Debian/Ubuntu) / `brew install redis` (macOS)';

export function redisServerBinary() {
  const found = spawnSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' });
  const path = found.stdout.trim();
  if (found.status !== 0 || path === '') throw new Error(INSTALL_HINT);
  return path;
}

export async function freePort() {
  const server = createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function answers(port) {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.write('PING\r\n');
      socket.once('data', (data) => { socket.destroy(); resolve(data.toString().startsWith('+PONG')); });
    });
    socket.once('error', () => { socket.destroy(); resolve(false); });
  });
}

/** A redis-server on a free port, without persistence. */
export class RedisServer {
  static async start(...extra) {
    const server = new RedisServer(redisServerBinary(), await freePort(), extra);
    await server.start();
    return server;
  }

  constructor(binary, port, extra) {
    this.binary = binary;
    this.port = port;
    this.extra = extra;
    this.process = null;
  }

  get url() { return `redis://127.0.0.1:${this.port}/0`; }

  async start() {
    const child = spawn(this.binary, ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '',
      '--appendonly', 'no', ...this.extra], { stdio: 'ignore' });
    this.process = child;
    let exited = false;
    child.once('exit', () => { exited = true; });
    const deadline = Date.now() + 10_000;
    // Polls until it answers (readiness, not a stand-in for an event).
    while (!(await answers(this.port))) {
      if (exited || Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new Error(`redis-server did not start on port ${this.port}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  async stop() {
    const child = this.process;
    this.process = null;
    if (child === null || child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
  }

  /** A raw client (RESP2 replies as they are). */
  async client() {
    const client = createClient({ url: this.url });
    client.on('error', () => {});
    await client.connect();
    return client;
  }
}

/** The Rust CLI for interop tests. */
export function sessionsCli() {
  for (const path of [process.env.SESSIONS_CLI, `${REPO}target/debug/sessions`, `${REPO}target/release/sessions`]) {
    if (path && existsSync(path)) return path;
  }
  throw new Error('the Rust CLI is missing at target/debug/sessions: build it with `cargo build -p agent-sessions-host` '
    + '(make test does), or set SESSIONS_CLI');
}

/** A throwaway Redis Cluster of three primaries (no replicas) on free
 * ports, in a temporary directory; `stop()` ends it. */
export class RedisCluster {
  static async start() {
    const { mkdtempSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const binary = redisServerBinary();
    const cli = spawnSync('sh', ['-c', 'command -v redis-cli'], { encoding: 'utf8' }).stdout.trim();
    if (cli === '') throw new Error(INSTALL_HINT);
    const dir = mkdtempSync(`${tmpdir()}/agent-sessions-cluster-`);
    const servers = [];
    for (let i = 0; i < 3; i++) {
      const port = await freePort();
      const server = new RedisServer(binary, port, ['--cluster-enabled', 'yes', '--cluster-config-file',
        `${dir}/nodes-${port}.conf`, '--dir', dir, '--cluster-node-timeout', '2000']);
      await server.start();
      servers.push(server);
    }
    const cluster = new RedisCluster(servers, dir);
    const created = spawnSync(cli, ['--cluster', 'create', ...servers.map((s) => `127.0.0.1:${s.port}`),
      '--cluster-replicas', '0', '--cluster-yes'], { encoding: 'utf8', timeout: 60_000 });
    if (created.status !== 0) {
      await cluster.stop();
      throw new Error(`redis-cli --cluster create failed: ${created.stdout}${created.stderr}`);
    }
    // Ready when every node reports the whole cluster ok (polled: there is no event to wait for).
    const deadline = Date.now() + 30_000;
    for (;;) {
      const states = servers.map((s) => spawnSync(cli, ['-p', String(s.port), 'cluster', 'info'], { encoding: 'utf8' }).stdout);
      if (states.every((info) => info.includes('cluster_state:ok') && info.includes('cluster_known_nodes:3'))) break;
      if (Date.now() > deadline) {
        await cluster.stop();
        throw new Error('the Redis Cluster did not become ready');
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    return cluster;
  }

  constructor(servers, dir) {
    this.servers = servers;
    this.dir = dir;
  }

  get url() { return this.servers.map((s) => `redis://127.0.0.1:${s.port}`).join(','); }

  async stop() {
    await Promise.all(this.servers.map((s) => s.stop()));
    const { rmSync } = await import('node:fs');
    rmSync(this.dir, { recursive: true, force: true });
  }
}
