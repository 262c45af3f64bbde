import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect, createServer as createNetServer, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gwgen, tempDir } from './helpers.js';

/**
 * The generated gateway's dependencies are installed once per machine (and per set of pinned
 * versions) into a shared folder, and every generated project links its node_modules there.
 */
export function installGatewayDeps(packageJson: string): string {
  const pkg = JSON.parse(readFileSync(packageJson, 'utf8')) as { dependencies: Record<string, string>; devDependencies: Record<string, string> };
  const deps = { ...pkg.dependencies, ...pkg.devDependencies };
  const key = createHash('sha256').update(JSON.stringify(deps)).digest('hex').slice(0, 12);
  const dir = join(tmpdir(), `gwgen-gateway-deps-${key}`);
  if (existsSync(join(dir, 'node_modules/.bin/tsc'))) return dir;
  const staging = `${dir}.${process.pid}.tmp`;
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { recursive: true });
  writeFileSync(join(staging, 'package.json'), JSON.stringify({ name: 'gwgen-gateway-deps', private: true, dependencies: deps }, null, 2));
  execFileSync('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error'], { cwd: staging, stdio: 'pipe', timeout: 240_000 });
  try {
    renameSync(staging, dir);
  } catch {
    // Another test process won the race: its install is as good as this one.
    rmSync(staging, { recursive: true, force: true });
  }
  return dir;
}

/** Generates the gateway of `model` (one file, or several merged) into a fresh folder, links the shared dependencies, compiles. */
export async function buildGateway(model: string | readonly string[]): Promise<{ out: string; dir: string; deps: string }> {
  const out = tempDir('gwgen-gateway-');
  const r = await gwgen(['generate', ...(typeof model === 'string' ? [model] : model), '-o', out, '-t', 'gateway']);
  if (r.exitCode !== 0) throw new Error(`gwgen generate failed: ${r.stderr}`);
  const dir = join(out, 'gateway');
  const deps = installGatewayDeps(join(dir, 'package.json'));
  symlinkSync(join(deps, 'node_modules'), join(dir, 'node_modules'), 'dir');
  execFileSync(process.execPath, [join(deps, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json'], { cwd: dir, stdio: 'pipe', timeout: 120_000 });
  return { out, dir, deps };
}

/**
 * Runs a generated project's own tests (its `npm test` without the build); their TAP output.
 * `context` starts the failure message (which model failed).
 */
export function runGeneratedTests(dir: string, context = ''): string {
  const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { scripts: { test: string } };
  const files = pkg.scripts.test.split('node --test')[1]!.trim().split(/\s+/).filter((a) => !a.startsWith('--'));
  try {
    return execFileSync(process.execPath, ['--test', '--test-concurrency=1', ...files], { cwd: dir, encoding: 'utf8', stdio: 'pipe', timeout: 180_000 });
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string };
    const failures = String(e.stdout ?? '')
      .split('\n')
      .filter((l) => /not ok|error:|expected|actual/.test(l))
      .slice(0, 40)
      .join('\n');
    throw new Error(`${context}generated tests failed:\n${failures}\n${String(e.stderr ?? '').slice(-2000)}`);
  }
}

export type Behaviour = 'ok' | 'fail' | 'reset' | 'hang' | 'slow' | 'unavailable' | 'not-modified' | 'malformed' | 'big';

/**
 * An HTTP server on 127.0.0.1 standing in for a backend: listen() (on its own port again after
 * stop()), url, and stop(), which stops listening and cuts every connection, upgraded ones too.
 * A subclass says what it answers in createServer().
 */
export abstract class TestServer {
  port = 0;
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();

  /** A fresh server: a closed one cannot listen again. */
  protected abstract createServer(): Server;

  async listen(port = this.port): Promise<this> {
    let server = this.server;
    if (server === undefined) {
      this.server = server = this.createServer();
      server.on('connection', (s: Socket) => {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
      });
    }
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    this.port = (server.address() as AddressInfo).port;
    return this;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Stops listening and cuts every connection: the port is closed until listen() again. */
  async stop(): Promise<void> {
    const server = this.server;
    if (server === undefined) return;
    this.server = undefined;
    for (const s of this.sockets) s.destroy();
    await new Promise((resolve) => server.close(resolve));
  }
}

/** A backend whose behaviour a test switches; it can also stop listening ("closed port"). */
export class Backend extends TestServer {
  behaviour: Behaviour = 'ok';
  /** What GET /healthz answers (the gateway's active health check). */
  healthy = true;
  /** GET /healthz requests (health-check probes) it answered. */
  probes = 0;
  calls = 0;
  /** A status to refuse WebSocket upgrades with, instead of switching. */
  refuseUpgrade: number | undefined;
  /** WebSocket upgrades are held without an answer, their connections kept in `held` until closed. */
  holdUpgrade = false;
  readonly held = new Set<Socket>();
  /** Body sizes of the requests it answered, in order. */
  readonly received: number[] = [];
  /** The headers of the requests it answered, in order. */
  readonly receivedHeaders: IncomingMessage['headers'][] = [];
  port = 0;
  /** Raw headers (flat [name, value, ...]) the 'ok' answer carries besides its content type. */
  answerHeaders: string[] = [];

  constructor(readonly name: string) {
    super();
  }

  protected createServer(): Server {
    const server = createServer((req, res) => this.handle(req, res));
    // A WebSocket upgrade is switched, and the tunnel echoes what it gets (no framing needed to test a proxy).
    server.on('upgrade', (_req, socket: Socket, head: Buffer) => {
      this.calls++;
      if (this.holdUpgrade) {
        this.held.add(socket);
        // The HTTP server's sockets are half-open: the gateway's end of the connection shows as 'end'.
        socket.on('end', () => socket.destroy());
        return void socket.on('close', () => this.held.delete(socket));
      }
      if (this.refuseUpgrade !== undefined)
        return void socket.end(`HTTP/1.1 ${this.refuseUpgrade} Refused\r\ncontent-type: text/plain\r\nx-why: policy\r\ncontent-length: 6\r\n\r\nno way`);
      socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
      if (head.length > 0) socket.write(head);
      socket.pipe(socket);
    });
    return server;
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    let bytes = 0;
    req.on('data', (c: Buffer) => (bytes += c.length));
    req.on('end', () => {
      if (req.url === '/healthz') {
        this.probes++;
        res.writeHead(this.healthy ? 200 : 503);
        return void res.end(this.healthy ? 'ok' : 'unhealthy');
      }
      this.calls++;
      this.received.push(bytes);
      this.receivedHeaders.push(req.headers);
      switch (this.behaviour) {
        case 'fail':
          res.writeHead(500, { 'content-type': 'text/plain' });
          return void res.end('backend failure');
        case 'unavailable':
          res.writeHead(503);
          return void res.end();
        case 'malformed':
          // A folded header line (obs-fold), which HTTP/1.1 parsers refuse.
          return void req.socket.end('HTTP/1.1 200 OK\r\nX-Folded: a\r\n b\r\nContent-Length: 0\r\n\r\n');
        case 'not-modified':
          // RFC 9110 lets a 304 carry the Content-Length of the full answer; it has no body.
          res.writeHead(304, { etag: '"v1"', 'content-length': '50' });
          return void res.end();
        case 'reset':
          return void req.socket.destroy();
        case 'hang':
          return;
        case 'big':
          // 32 MiB at once: far more than socket buffers hold, so a client that does not read holds it up.
          res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': 32 * 1024 * 1024 });
          return void res.end(Buffer.alloc(32 * 1024 * 1024, 120));
        case 'slow':
          return void setTimeout(() => res.end(JSON.stringify({ backend: this.name, slow: true })), 300);
        default:
          res.writeHead(200, ['content-type', 'application/json', ...this.answerHeaders]);
          res.end(JSON.stringify({ backend: this.name, port: this.port, url: req.url, bytes, headers: req.headers }));
      }
    });
  }
}

export interface GatewayProcess {
  readonly child: ChildProcess;
  readonly url: string;
  stderr(): string;
  /** What it wrote on stdout: the access log, when GW_ACCESS_LOG is "stdout". */
  stdout(): string;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** The access log a gateway wrote on stdout (GW_ACCESS_LOG=stdout), one entry per JSON line. */
export function accessLog(gw: GatewayProcess): Array<Record<string, unknown>> {
  return gw
    .stdout()
    .trimEnd()
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

/** The environment every test gateway runs with, under the test's own variables. */
const gatewayEnv = (env: Record<string, string>) => ({ PATH: process.env.PATH ?? '', PORT: '0', HOST: '127.0.0.1', GW_ACCESS_LOG: 'off', ...env });

/** Starts `npm start`'s command (node dist/src/main.js) on an ephemeral port; resolves once it listens. */
export async function startGateway(dir: string, env: Record<string, string>): Promise<GatewayProcess> {
  const child = spawn(process.execPath, ['dist/src/main.js'], { cwd: dir, env: gatewayEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the gateway did not start: ${err}`)), 20_000);
    child.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
      const m = /"message":"listening".*?"port":(\d+)/.exec(err);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    child.on('exit', (code) => reject(new Error(`the gateway exited (${code}): ${err}`)));
  });
  return {
    child,
    url: `http://127.0.0.1:${port}`,
    stderr: () => err,
    stdout: () => out,
    stop: (signal = 'SIGTERM') =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve(child.exitCode);
        child.once('exit', (code) => resolve(code));
        child.kill(signal);
      }),
  };
}

/** Runs a gateway that is expected not to start: its exit status and what it wrote on stderr. */
export function failedStart(dir: string, env: Record<string, string>): { status: number | null; stderr: string } {
  const r = spawnSync(process.execPath, ['dist/src/main.js'], { cwd: dir, env: gatewayEnv(env), encoding: 'utf8', timeout: 20_000 });
  return { status: r.status, stderr: r.stderr };
}

export function redisServer(): string | undefined {
  for (const p of ['/usr/bin/redis-server', '/usr/local/bin/redis-server']) if (existsSync(p)) return p;
  return undefined;
}

/**
 * A redis-server of the test's own on 127.0.0.1:`port`, without persistence, once it answers
 * PING; `args` are more of its flags (`--requirepass secret` is used for the PING too).
 */
export async function startRedis(port: number, args: readonly string[] = []): Promise<ChildProcess> {
  const bin = redisServer();
  if (bin === undefined) throw new Error('redis-server is not installed');
  const p = spawn(bin, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', ...args], { stdio: 'ignore' });
  const auth = args[0] === '--requirepass' ? ['-a', args[1]!, '--no-auth-warning'] : [];
  for (let i = 0; i < 100; i++) {
    try {
      execFileSync('redis-cli', ['-p', String(port), ...auth, 'PING'], { stdio: 'pipe', timeout: 2000 });
      return p;
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  p.kill('SIGKILL');
  throw new Error('redis-server did not start');
}

/** Ends a redis-server of startRedis, also one a test paused (SIGSTOP); resolves once it has exited. */
export function stopRedis(p: ChildProcess): Promise<void> {
  return new Promise<void>((resolve) => {
    if (p.exitCode !== null || p.signalCode !== null) return resolve();
    p.once('exit', () => resolve());
    p.kill('SIGCONT');
    p.kill('SIGKILL');
  });
}

/** A port nobody listens on now (the kernel's pick, released): a closed port, or one for a server to come. */
export async function freePort(): Promise<number> {
  const s = createNetServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as AddressInfo).port;
  await new Promise((resolve) => s.close(resolve));
  return port;
}

/** What a raw answer says: status, lower-cased headers (the last of a repeated name), body (by Content-Length, else the rest). */
export interface RawAnswer {
  status: number;
  head: string;
  headers: Record<string, string>;
  body: string;
  /** Everything the connection carried, several answers included. */
  all: string;
}

export function parseAnswer(all: string): RawAnswer {
  const end = all.indexOf('\r\n\r\n');
  const head = end === -1 ? all : all.slice(0, end);
  const headers: Record<string, string> = {};
  for (const line of head.split('\r\n').slice(1)) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
  }
  const rest = end === -1 ? '' : all.slice(end + 4);
  const length = headers['content-length'] !== undefined ? Number(headers['content-length']) : rest.length;
  return { status: Number(all.slice(9, 12)), head, headers, body: rest.slice(0, length), all };
}

/**
 * Sends `text` on a connection of its own, as written (no client library normalises it), and
 * collects what comes back until the gateway closes the connection or `ms` pass.
 */
export function rawExchange(url: string, text: string, ms = 3000): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const socket = connect(Number(new URL(url).port), '127.0.0.1', () => socket.write(text, 'latin1'));
    let all = '';
    const timer = setTimeout(() => socket.destroy(), ms);
    socket.setEncoding('latin1').on('data', (d: string) => (all += d));
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(parseAnswer(all));
    });
    socket.on('error', reject);
  });
}

/** A JWKS server on 127.0.0.1 that answers at once, cuts every connection (`down`) or never answers (`hang`), and counts its fetches. */
export class JwksServer {
  keys: object[] = [];
  behaviour: 'ok' | 'down' | 'hang' | 'redirect' = 'ok';
  fetches = 0;
  private readonly server: Server = createServer((req, res) => {
    this.fetches++;
    if (this.behaviour === 'down') return void req.socket.destroy();
    if (this.behaviour === 'hang') return;
    if (this.behaviour === 'redirect') return void res.writeHead(302, { location: 'https://keys.example/jwks.json' }).end();
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ keys: this.keys }));
  });
  async listen(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/jwks.json`;
  }
  close(): Promise<unknown> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(resolve));
  }
}

/**
 * An address whose TCP handshake never completes, as a host that drops SYNs (a firewall, a dead
 * machine's IP): a process of its own listens on 127.0.0.1 with a backlog of one and is stopped
 * (SIGSTOP), so it accepts nothing, and connections are opened until the kernel's accept queue is
 * full: from then on it drops every SYN, and a connect waits until its client gives up.
 */
export async function blackHole(): Promise<{ url: string; close(): Promise<void> }> {
  const script = "const s=require('net').createServer();s.listen({port:0,host:'127.0.0.1',backlog:1},()=>console.log(s.address().port))";
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'ignore'] });
  const fillers: Socket[] = [];
  const close = () =>
    new Promise<void>((resolve) => {
      for (const s of fillers) s.destroy();
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.kill('SIGKILL');
    });
  try {
    const port = await new Promise<number>((resolve, reject) => {
      child.stdout!.once('data', (d: Buffer) => resolve(Number(String(d).trim())));
      child.once('exit', (code) => reject(new Error(`the black hole's process exited (${code})`)));
    });
    child.kill('SIGSTOP');
    // Fillers until one stays unconnected for 2 s (on loopback the kernel completes a handshake
    // at once while the queue has room): the queue is full.
    for (let n = 0; n < 64; n++) {
      const s = connect(port, '127.0.0.1');
      s.on('error', () => undefined);
      fillers.push(s);
      const connected = await new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => resolve(false), 2000);
        s.once('connect', () => (clearTimeout(timer), resolve(true)));
      });
      if (!connected) return { url: `http://127.0.0.1:${port}`, close };
    }
    throw new Error('the black hole kept accepting connections');
  } catch (err) {
    await close();
    throw err;
  }
}
