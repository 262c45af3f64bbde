import { request } from 'node:http';
import { createServer as createNetServer, type AddressInfo, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accessLog, Backend, buildGateway, failedStart, startGateway, type GatewayProcess } from './gateway-helpers.js';

/**
 * The generated gateway's timeouts against clients slower than they are (test/fixtures/gateway/
 * policy.ttl), black-box over real sockets: a route timeout that strikes while the client is
 * still sending its body is the client's doing, never the backend's failure (else any client
 * could open a breaker with two slow uploads), while a backend that stops reading one is; a
 * per-try timeout counts from the body's end. And GW_UPSTREAM_<SERVICE> values it cannot read
 * stop the start instead of dropping or reweighing instances unsaid.
 */

/** A POST whose body comes 10 bytes at a time, every 400 ms (2.4 s in all); its answer. */
function trickle(url: string, chunked = false): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent: false, method: 'POST', headers: chunked ? {} : { 'content-length': '60' } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode!, body }));
      res.on('error', reject);
    });
    // A fresh connection each (no keep-alive agent): Node's client would reuse one whose answer came before its body was sent.
    // Writes after the gateway's early answer may meet a closed connection: the answer is what counts.
    req.on('error', () => undefined);
    let sent = 0;
    const timer = setInterval(() => {
      if (req.destroyed) return clearInterval(timer);
      req.write('0123456789');
      if (++sent === 6) {
        clearInterval(timer);
        req.end();
      }
    }, 400);
  });
}

/** A POST of `mb` MiB sent as fast as the connection takes it, until the answer comes; its status. */
function flood(url: string, mb: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const chunk = Buffer.alloc(64 * 1024, 97);
    let left = (mb * 1024 * 1024) / chunk.length;
    const req = request(url, { agent: false, method: 'POST', headers: { 'content-length': String(mb * 1024 * 1024) } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode!));
      req.destroy();
    });
    req.on('error', (err) => (req.writableEnded ? undefined : reject(err)));
    const pump = () => {
      while (left > 0 && !req.destroyed) {
        left--;
        if (!req.write(chunk)) return void req.once('drain', pump);
      }
      if (left === 0) req.end();
    };
    pump();
  });
}

describe('generated gateway: what a slow client holds up is not the backend failing (policy model)', () => {
  let dir = '';
  let gw: GatewayProcess;
  const vault = new Backend('vault');
  const bins = [new Backend('bin-a'), new Backend('bin-b')];
  const ledger = new Backend('ledger');
  const pool = [new Backend('pool-a'), new Backend('pool-b')];

  beforeAll(async () => {
    ({ dir } = await buildGateway('test/fixtures/gateway/policy.ttl'));
    for (const b of [vault, ...bins, ledger, ...pool]) await b.listen();
    gw = await startGateway(dir, {
      GW_UPSTREAM_VAULT: vault.url,
      GW_UPSTREAM_BINS: bins.map((b) => b.url).join(','),
      GW_UPSTREAM_LEDGER_V2: ledger.url,
      GW_UPSTREAM_POOL: pool.map((b) => b.url).join(','),
      // One failure ejects an instance (while the other one serves): any failure counted shows.
      GW_EJECT_AFTER_FAILURES: '1',
      GW_EJECT_MS: '60000',
      GW_ACCESS_LOG: 'stdout',
    });
  });
  afterAll(async () => {
    await gw?.stop('SIGKILL');
    for (const b of [vault, ...bins, ledger, ...pool]) await b.stop();
  });

  const metrics = async (of: GatewayProcess = gw) => (await fetch(`${of.url}/metrics`)).text();
  const gauge = (text: string, name: string, labels: string) =>
    Number(new RegExp(`${name}\\{${labels}\\} (\\d+)`).exec(text)?.[1]);

  it('a route timeout while the client still sends its body is 504, and counts neither against the breaker nor for passive ejection', async () => {
    for (let i = 0; i < 3; i++) {
      const r = await trickle(`${gw.url}/guarded`);
      expect(r.status, r.body).toBe(504);
    }
    for (let i = 0; i < 2; i++) expect((await trickle(`${gw.url}/spread`, true)).status).toBe(504);
    const text = await metrics();
    expect(gauge(text, 'gateway_circuit_breaker_state', 'route="guarded",service="vault"')).toBe(0);
    for (const b of bins) expect(gauge(text, 'gateway_upstream_healthy', `service="bins",instance="${b.url}"`), b.name).toBe(1);
    // The backends never got a whole request, and still get the next ones.
    expect(vault.calls + bins[0]!.calls + bins[1]!.calls).toBe(0);
    const r = await fetch(`${gw.url}/guarded`, { method: 'POST', body: 'whole' });
    expect(r.status).toBe(200);
    await r.text();
    for (let i = 0; i < 4; i++) expect((await fetch(`${gw.url}/spread`, { method: 'POST', body: 'x' })).status).toBe(200);
    expect(bins.map((b) => b.calls)).toEqual([2, 2]);
    const timeouts = accessLog(gw).filter((l) => l.status === 504);
    expect(timeouts).toHaveLength(5);
    for (const l of timeouts) expect(l.error).toBe('route timeout while the client was still sending the request body');
  });

  it('a per-try timeout counts from the end of the body: a slow upload answered at once is served, a backend that hangs is 504', async () => {
    for (const chunked of [false, true]) {
      const r = await trickle(`${gw.url}/paced`, chunked);
      expect(r.status, `chunked ${chunked}: ${r.body}`).toBe(200);
      expect(JSON.parse(r.body)).toMatchObject({ backend: 'ledger', bytes: 60 });
    }
    ledger.behaviour = 'hang';
    try {
      const started = performance.now();
      const r = await fetch(`${gw.url}/paced`, { method: 'POST', body: 'whole body' });
      expect(r.status).toBe(504);
      await r.text();
      expect(performance.now() - started).toBeLessThan(10_000);
    } finally {
      ledger.behaviour = 'ok';
    }
  });

  it('a backend that stops reading an upload is failing: its route timeouts open the breaker', async () => {
    // Takes connections and never reads from them: the upload backs up to the client.
    const held = new Set<Socket>();
    const sink = createNetServer({ pauseOnConnect: true }, (s) => {
      held.add(s);
      s.on('close', () => held.delete(s));
    });
    await new Promise<void>((resolve) => sink.listen(0, '127.0.0.1', resolve));
    const other = await startGateway(dir, {
      GW_UPSTREAM_VAULT: `http://127.0.0.1:${(sink.address() as AddressInfo).port}`,
      GW_UPSTREAM_BINS: bins.map((b) => b.url).join(','),
      GW_UPSTREAM_LEDGER_V2: ledger.url,
      GW_MAX_BODY_BYTES: String(256 * 1024 * 1024),
    });
    try {
      for (let i = 0; i < 2; i++) expect(await flood(`${other.url}/guarded`, 64)).toBe(504);
      expect(gauge(await metrics(other), 'gateway_circuit_breaker_state', 'route="guarded",service="vault"')).toBe(1);
      const r = await fetch(`${other.url}/guarded`, { method: 'POST', body: 'x' });
      expect(r.status).toBe(503);
      expect(Number(r.headers.get('retry-after'))).toBeGreaterThan(0);
      await r.text();
    } finally {
      await other.stop('SIGKILL');
      for (const s of held) s.destroy();
      await new Promise((resolve) => sink.close(resolve));
    }
  });

  it('gives an instance passive ejection took out its traffic back once the health checks take out the last other one, instead of 503', async () => {
    const health = async (b: Backend) =>
      gauge(await metrics(), 'gateway_upstream_healthy', `service="pool",instance="${b.url}"`);
    const until = async (what: string, ok: () => Promise<boolean>) => {
      const deadline = performance.now() + 15_000;
      while (!(await ok())) {
        if (performance.now() > deadline) throw new Error(`timed out waiting until ${what}`);
        await new Promise((r) => setTimeout(r, 25));
      }
    };
    const [a, b] = pool as [Backend, Backend];
    // One reset ejects pool-a for a minute (GW_EJECT_AFTER_FAILURES=1), while pool-b serves.
    a.behaviour = 'reset';
    for (let i = 0; i < 4 && (await health(a)) === 1; i++) await (await fetch(`${gw.url}/probed`)).text();
    expect(await health(a)).toBe(0);
    a.behaviour = 'ok';
    expect(((await (await fetch(`${gw.url}/probed`)).json()) as { backend: string }).backend).toBe('pool-b');
    // pool-b fails its probes; pool-a passes them all along.
    b.healthy = false;
    await until('pool-b is out', async () => (await health(b)) === 0);
    const r = await fetch(`${gw.url}/probed`);
    expect(r.status).toBe(200);
    expect(((await r.json()) as { backend: string }).backend).toBe('pool-a');
    expect(await health(a)).toBe(1);
    b.healthy = true;
    await until('pool-b is back', async () => (await health(b)) === 1);
  });

  it('refuses to start on a GW_UPSTREAM_<SERVICE> it cannot read, naming the variable and the entry', () => {
    const bad: Array<[string, string]> = [
      [`${vault.url};weight=abc`, 'weight=abc'],
      [`${vault.url};weight=-1,${ledger.url}`, 'weight=-1'],
      [`${vault.url};weight=2.5,${ledger.url}`, 'weight=2.5'],
      [`${vault.url};weight=101`, 'weight=101'],
      [`${vault.url};w=5`, 'w=5'],
      [`${vault.url}/api`, `${vault.url}/api`],
      [`${vault.url}?x=1`, `${vault.url}?x=1`],
      ['127.0.0.1:9001', '127.0.0.1:9001'],
      ['ftp://127.0.0.1:21', 'ftp://127.0.0.1:21'],
      [' , ', 'names no instance'],
      [`${vault.url},${vault.url}/`, 'listed twice'],
    ];
    for (const [value, named] of bad) {
      const r = failedStart(dir, { GW_UPSTREAM_VAULT: value });
      expect(r.status, `${value}: ${r.stderr}`).toBe(1);
      const line = JSON.parse(r.stderr.trim().split('\n').pop()!) as { message: string; detail: string };
      expect(line.message).toBe('failed to start');
      expect(line.detail, value).toContain('GW_UPSTREAM_VAULT');
      expect(line.detail, value).toContain(named);
    }
  });

  it('takes an empty or blank GW_UPSTREAM_<SERVICE> as unset, like every other variable, and says at start which addresses the service keeps', async () => {
    for (const value of ['', '  ']) {
      const other = await startGateway(dir, { GW_UPSTREAM_BINS: bins.map((b) => b.url).join(','), GW_UPSTREAM_LEDGER_V2: ledger.url, GW_UPSTREAM_VAULT: value });
      try {
        const line = other
          .stderr()
          .split('\n')
          .find((l) => l.includes('GW_UPSTREAM_VAULT'));
        expect(line, JSON.stringify(value)).toBeDefined();
        expect(JSON.parse(line!)).toMatchObject({ level: 'warn', message: expect.stringMatching(/^GW_UPSTREAM_VAULT is empty: vault keeps the model's address(es)? \(http:\/\//) });
      } finally {
        await other.stop('SIGKILL');
      }
    }
  });

  it('reads spaces, a trailing "/" and weights 0..100 in GW_UPSTREAM_<SERVICE>, and warns about one that names no service', async () => {
    const other = await startGateway(dir, {
      GW_UPSTREAM_VAULT: ` ${bins[0]!.url}/ ; weight=0 , ${bins[1]!.url};weight=100 `,
      GW_UPSTREAM_LEDGER: ledger.url,
    });
    try {
      for (let i = 0; i < 4; i++) {
        const r = await fetch(`${other.url}/guarded`, { method: 'POST', body: 'x' });
        expect(((await r.json()) as { backend: string }).backend).toBe('bin-b');
      }
      expect(other.stderr()).toContain('GW_UPSTREAM_LEDGER names no service of this gateway');
      expect(other.stderr()).not.toContain('GW_UPSTREAM_VAULT names');
    } finally {
      await other.stop('SIGKILL');
    }
  });
});
