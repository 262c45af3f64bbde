import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect, createServer as createNetServer, type AddressInfo, type Server as NetServer, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildGateway, startGateway, TestServer, type GatewayProcess } from './gateway-helpers.js';

/**
 * The generated gateway's resilience, black-box over real sockets (test/fixtures/gateway/
 * resilience.ttl): the load balancing algorithms by their statistics, health-check thresholds,
 * the breaker's states and what counts against it, exact retry counts and growing backoff, splits
 * with a header canary, mirrors that never delay an answer, and faults that leak nothing.
 * (test/gateway-e2e.test.ts has the basics: a breaker cycle, retries to another instance,
 * 80/20 weights, a hash key kept, a health-checked instance out and back.)
 *
 * Statistical checks allow 4.5 standard deviations of a binomial: a wrong share fails them, chance
 * about once in 150,000 runs.
 */

type Handler = (req: IncomingMessage, res: ServerResponse, body: Buffer, mock: Mock) => void;

/** A backend whose answer a test writes as a function; it counts calls, concurrency and bodies. */
class Mock extends TestServer {
  calls = 0;
  /** performance.now() of each call, when its request had arrived whole. */
  readonly times: number[] = [];
  readonly bodies: Buffer[] = [];
  readonly urls: string[] = [];
  readonly headers: IncomingMessage['headers'][] = [];
  active = 0;
  maxActive = 0;
  /** What its health-check path answers, and how many probes it answered (good and bad). */
  healthy = true;
  /** Its health-check path never answers (the probes' own time limit must fail them). */
  probeHangs = false;
  goodProbes = 0;
  badProbes = 0;
  handler: Handler | undefined;

  constructor(readonly name: string) {
    super();
  }

  protected createServer(): Server {
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('error', () => undefined);
      req.on('end', () => {
        if (req.url === '/health') {
          if (this.probeHangs) return void this.badProbes++;
          if (this.healthy) this.goodProbes++;
          else this.badProbes++;
          res.writeHead(this.healthy ? 200 : 503);
          return void res.end();
        }
        const body = Buffer.concat(chunks);
        this.calls++;
        this.times.push(performance.now());
        this.bodies.push(body);
        this.urls.push(req.url ?? '');
        this.headers.push(req.headers);
        this.active++;
        this.maxActive = Math.max(this.maxActive, this.active);
        res.on('close', () => this.active--);
        if (this.handler) return this.handler(req, res, body, this);
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ backend: this.name }));
      });
    });
    return server;
  }

  reset(): void {
    this.calls = this.active = this.maxActive = 0;
    this.times.length = this.bodies.length = this.urls.length = this.headers.length = 0;
    this.handler = undefined;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const status = (code: number, body = ''): Handler => (_req, res) => {
  res.writeHead(code, { 'content-type': 'text/plain' });
  res.end(body);
};
const slowly = (ms: number): Handler => (_req, res, _body, mock) =>
  void setTimeout(() => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ backend: mock.name }));
  }, ms);
const hang: Handler = () => undefined;
const reset: Handler = (req) => req.socket.destroy();

/** Within 4.5 standard deviations of a binomial's mean (n tries at p). */
function expectBinomial(got: number, n: number, p: number, what: string): void {
  const bound = 4.5 * Math.sqrt(n * p * (1 - p)) + 1;
  expect(Math.abs(got - n * p), `${what}: ${got} of ${n}, expected about ${n * p}`).toBeLessThanOrEqual(bound);
}

describe('generated gateway resilience, black-box over real sockets', () => {
  let dir = '';
  let gw: GatewayProcess;
  const rr = [new Mock('r70'), new Mock('r30')];
  const lc = [new Mock('fast'), new Mock('slow')];
  const rnd = [new Mock('x1'), new Mock('x2'), new Mock('x3')];
  const ch = [new Mock('c1'), new Mock('c2'), new Mock('c3'), new Mock('c4')];
  const hc = [new Mock('h1'), new Mock('h2')];
  const cb = new Mock('cb');
  const cb2 = new Mock('cb2');
  const rt = new Mock('rt');
  const v = [new Mock('v1'), new Mock('v2'), new Mock('v3')];
  const main = new Mock('main');
  const shadow2 = new Mock('shadow2');
  const faulty = new Mock('faulty');
  /** The mirror of /mirror: accepts connections and reads, never answers (swapped for a closed port in a test). */
  const holeSockets = new Set<Socket>();
  const hole: NetServer = createNetServer((s) => {
    holeSockets.add(s);
    s.resume();
    s.on('close', () => holeSockets.delete(s));
  });
  const all = [...rr, ...lc, ...rnd, ...ch, ...hc, cb, cb2, rt, ...v, main, shadow2, faulty];

  beforeAll(async () => {
    ({ dir } = await buildGateway('test/fixtures/gateway/resilience.ttl'));
    for (const m of all) await m.listen();
    await new Promise<void>((resolve) => hole.listen(0, '127.0.0.1', resolve));
    const list = (ms: readonly Mock[]) => ms.map((m) => m.url).join(',');
    gw = await startGateway(dir, {
      GW_UPSTREAM_RRSVC: `${rr[0]!.url};weight=70,${rr[1]!.url};weight=30`,
      GW_UPSTREAM_LCSVC: list(lc),
      GW_UPSTREAM_RNDSVC: list(rnd),
      GW_UPSTREAM_CHSVC: list(ch),
      GW_UPSTREAM_HCSVC: list(hc),
      GW_UPSTREAM_CBSVC: cb.url,
      GW_UPSTREAM_CB2SVC: cb2.url,
      GW_UPSTREAM_RTSVC: rt.url,
      GW_UPSTREAM_V1: v[0]!.url,
      GW_UPSTREAM_V2: v[1]!.url,
      GW_UPSTREAM_V3: v[2]!.url,
      GW_UPSTREAM_MAIN: main.url,
      GW_UPSTREAM_SHADOW: `http://127.0.0.1:${(hole.address() as AddressInfo).port}`,
      GW_UPSTREAM_SHADOW2: shadow2.url,
      GW_UPSTREAM_FAULTY: faulty.url,
      // Passive ejection would blur what the breaker, the health checks and the retries do.
      GW_EJECT_AFTER_FAILURES: '0',
      GW_MAX_BODY_BYTES: '100000',
      GW_MIRROR_TIMEOUT_MS: '1000',
    });
  });
  afterAll(async () => {
    await gw?.stop('SIGKILL');
    for (const s of holeSockets) s.destroy();
    await new Promise((resolve) => hole.close(resolve));
    for (const m of all) await m.stop().catch(() => undefined);
  });

  const send = async (path: string, init: RequestInit = {}) => {
    const started = performance.now();
    const res = await fetch(gw.url + path, init);
    const text = await res.text();
    return { status: res.status, headers: res.headers, text, ms: performance.now() - started };
  };
  const backendOf = async (path: string, init?: RequestInit) => {
    const r = await send(path, init);
    expect(r.status, `${path}: ${r.text}`).toBe(200);
    return (JSON.parse(r.text) as { backend: string }).backend;
  };
  /** `n` requests, `concurrency` at a time. */
  const many = async (n: number, concurrency: number, one: (i: number) => Promise<unknown>) => {
    let next = 0;
    await Promise.all(Array.from({ length: concurrency }, async () => {
      while (next < n) await one(next++);
    }));
  };
  const metrics = async () => (await send('/metrics')).text;
  const breakerState = async (route: string) =>
    Number(new RegExp(`gateway_circuit_breaker_state\\{route="${route}",service="[^"]+"\\} (\\d)`).exec(await metrics())?.[1]);
  const healthOf = async (m: Mock, of: GatewayProcess = gw) =>
    Number(
      new RegExp(`gateway_upstream_healthy\\{service="hcsvc",instance="${m.url}"\\} (\\d)`).exec(
        await (await fetch(`${of.url}/metrics`)).text(),
      )?.[1],
    );

  describe('load balancing', () => {
    it('round-robin with weights 70/30 sends exactly 700 and 300 of 1,000 requests, 20 at a time', async () => {
      await many(1000, 20, () => backendOf('/rr'));
      expect(rr.map((m) => m.calls)).toEqual([700, 300]);
    });

    it('random spreads 1,200 requests evenly over three instances', async () => {
      await many(1200, 10, () => backendOf('/rnd'));
      for (const m of rnd) expectBinomial(m.calls, 1200, 1 / 3, m.name);
    });

    it('least-connections sends to the idle instance while the other one is slow', async () => {
      lc[1]!.handler = slowly(200);
      const end = performance.now() + 1200;
      await Promise.all(Array.from({ length: 8 }, async () => {
        while (performance.now() < end) await backendOf('/lc');
      }));
      const [fast, slow] = lc as [Mock, Mock];
      // Round-robin would send half to the slow one; least-connections sends it a request only
      // when it has no more in flight than the fast one (measured: about 100 times fewer).
      expect(fast.calls, `fast ${fast.calls}, slow ${slow.calls}`).toBeGreaterThan(4 * slow.calls);
      expect(slow.maxActive).toBeLessThanOrEqual(8);
    });

    it('consistent-hash keeps every key on its instance, and moves only the keys of an instance that goes down', async () => {
      const keys = Array.from({ length: 400 }, (_, i) => `key-${i}`);
      const owners = async () => {
        const found = new Map<string, string>();
        await many(keys.length, 10, async (i) => found.set(keys[i]!, await backendOf(`/ch/${keys[i]}`)));
        return found;
      };
      const first = await owners();
      const again = await owners();
      expect([...again].filter(([k, owner]) => first.get(k) !== owner)).toEqual([]);
      // Near-even shares (each instance's arcs of the ring vary a little with its address).
      for (const m of ch) {
        const share = [...first.values()].filter((o) => o === m.name).length;
        expect(share, m.name).toBeGreaterThan(50);
        expect(share, m.name).toBeLessThan(160);
      }
      const down = ch[1]!;
      const port = down.port;
      await down.stop();
      try {
        // The route retries a refused connection on the next instance of the ring: every key answers.
        const after = await owners();
        const moved = [...after].filter(([k, owner]) => first.get(k) !== owner);
        expect(moved.every(([k]) => first.get(k) === down.name)).toBe(true);
        expect(moved.length).toBe([...first.values()].filter((o) => o === down.name).length);
        // They go to the next instance on the ring, not all to one.
        expect(new Set(moved.map(([, owner]) => owner)).size).toBeGreaterThan(1);
        // And stay there.
        const settled = await owners();
        expect([...settled].filter(([k, owner]) => after.get(k) !== owner)).toEqual([]);
      } finally {
        await down.listen(port);
      }
      expect([...(await owners())].filter(([k, owner]) => first.get(k) !== owner)).toEqual([]);
    });
  });

  describe('health checks', () => {
    it('takes an instance out after failureThresholdHealth failed probes, brings it back after successThreshold good ones, and answers 503 when none is healthy', async () => {
      const [h1, h2] = hc as [Mock, Mock];
      const spread = async () => {
        const before = [h1.calls, h2.calls];
        await backendOf('/hc');
        await backendOf('/hc');
        return [h1.calls - before[0]!, h2.calls - before[1]!];
      };
      expect(await spread()).toEqual([1, 1]);
      expect(await healthOf(h2)).toBe(1);
      const bad = h2.badProbes;
      h2.healthy = false;
      // Round-robin over two: two requests in a row both to h1 means h2 is out. That can only
      // follow its third failed probe (the model's agw:failureThresholdHealth 3).
      let outAfter = -1;
      for (const end = Date.now() + 5000; Date.now() < end && outAfter < 0; await sleep(20))
        if ((await spread())[1] === 0) outAfter = h2.badProbes - bad;
      expect(outAfter, 'failed probes before it was out').toBeGreaterThanOrEqual(3);
      expect(await healthOf(h2)).toBe(0);
      for (let i = 0; i < 10; i++) expect(await backendOf('/hc')).toBe('h1');

      h1.healthy = false;
      for (const end = Date.now() + 5000; Date.now() < end && (await healthOf(h1)) !== 0; ) await sleep(50);
      const none = await send('/hc');
      expect(none.status).toBe(503);
      expect(none.headers.get('retry-after')).toBe('1');
      expect(JSON.parse(none.text)).toEqual({ error: 'no healthy upstream instance', status: 503 });

      // Back after two good probes (agw:successThreshold 2), not one.
      const good = h2.goodProbes;
      h2.healthy = true;
      let backAfter = -1;
      for (const end = Date.now() + 5000; Date.now() < end && backAfter < 0; await sleep(20)) {
        const r = await send('/hc');
        if (r.status === 200) backAfter = h2.goodProbes - good;
      }
      expect(backAfter, 'good probes before it was back').toBeGreaterThanOrEqual(2);
      expect(await healthOf(h2)).toBe(1);
      h1.healthy = true;
      for (const end = Date.now() + 5000; Date.now() < end && (await healthOf(h1)) !== 1; ) await sleep(50);
      expect(await spread()).toEqual([1, 1]);
    });

    it('fails the probes of an instance that hangs while its connection pool is full of its hung requests', async () => {
      // Two connections per instance: two hung requests fill the pool. A probe that queued behind
      // them would never be sent, so never fail, and the hung instance would keep its traffic.
      const stuck = await new Mock('stuck').listen();
      const fine = await new Mock('fine').listen();
      const small = await startGateway(dir, {
        GW_UPSTREAM_HCSVC: `${stuck.url},${fine.url}`,
        GW_POOL_CONNECTIONS: '2',
        GW_EJECT_AFTER_FAILURES: '0',
      });
      const clients = new AbortController();
      try {
        stuck.handler = hang;
        const pending = Array.from({ length: 4 }, () => fetch(`${small.url}/hc`, { signal: clients.signal }).catch(() => undefined));
        for (const end = Date.now() + 3000; Date.now() < end && (stuck.calls < 2 || fine.calls < 2); ) await sleep(20);
        expect([stuck.calls, fine.calls]).toEqual([2, 2]);
        stuck.probeHangs = true;
        const bad = stuck.badProbes;
        for (const end = Date.now() + 5000; Date.now() < end && (await healthOf(stuck, small)) !== 0; ) await sleep(50);
        expect(await healthOf(stuck, small)).toBe(0);
        expect(stuck.badProbes - bad).toBeGreaterThanOrEqual(3);
        for (let i = 0; i < 6; i++) {
          const r = await fetch(`${small.url}/hc`);
          expect(((await r.json()) as { backend: string }).backend).toBe('fine');
        }
        clients.abort();
        await Promise.all(pending);
      } finally {
        clients.abort();
        await small.stop('SIGKILL');
        await stuck.stop();
        await fine.stop();
      }
    });

    it('takes a killed instance back after successThreshold good probes once it restarts, also when passive ejection had taken it out', async () => {
      const dying = await new Mock('dying').listen();
      const steady = await new Mock('steady').listen();
      // Passive ejection on, for far longer than the test waits.
      const ejecting = await startGateway(dir, {
        GW_UPSTREAM_HCSVC: `${dying.url},${steady.url}`,
        GW_EJECT_AFTER_FAILURES: '2',
        GW_EJECT_MS: '60000',
      });
      try {
        await dying.stop();
        // Refused connections (502s, no retry policy on /hc) eject it passively, failed probes take it out.
        for (let i = 0; i < 6; i++) await fetch(`${ejecting.url}/hc`).then((r) => r.text());
        for (const end = Date.now() + 5000; Date.now() < end && (await healthOf(dying, ejecting)) !== 0; ) await sleep(50);
        for (let i = 0; i < 4; i++) expect(await (await fetch(`${ejecting.url}/hc`)).json()).toEqual({ backend: 'steady' });
        await sleep(1000); // the probes see it down (agw:failureThresholdHealth 3 at 0.2 s)

        await dying.listen(); // restarted, on its port
        let back = false;
        for (const end = Date.now() + 5000; Date.now() < end && !back; await sleep(50)) {
          const r = (await (await fetch(`${ejecting.url}/hc`)).json()) as { backend: string };
          back = r.backend === 'dying';
        }
        expect(back, 'the restarted instance gets traffic again within 5 s, not after GW_EJECT_MS').toBe(true);
        expect(await healthOf(dying, ejecting)).toBe(1);
      } finally {
        await ejecting.stop('SIGKILL');
        await dying.stop();
        await steady.stop();
      }
    });
  });

  describe('circuit breaker', () => {
    it('counts 5xx, timeouts and resets as failures, 4xx never; a success ends a run of failures', async () => {
      cb.reset();
      cb.handler = status(404);
      for (let i = 0; i < 6; i++) expect((await send('/cb/x')).status).toBe(404);
      expect(await breakerState('cb')).toBe(0);
      cb.handler = status(500);
      for (let i = 0; i < 2; i++) expect((await send('/cb/x')).status).toBe(500);
      cb.handler = undefined;
      expect((await send('/cb/x')).status).toBe(200);
      cb.handler = status(503);
      for (let i = 0; i < 2; i++) expect((await send('/cb/x')).status).toBe(503);
      expect(await breakerState('cb')).toBe(0);
      // A route timeout (0.4 s) is the third failure in a row.
      cb.handler = hang;
      expect((await send('/cb/x')).status).toBe(504);
      expect(await breakerState('cb')).toBe(1);
      const calls = cb.calls;
      const open = await send('/cb/x');
      expect(open.status).toBe(503);
      expect(open.headers.get('retry-after')).toBe('1');
      expect(JSON.parse(open.text)).toEqual({ error: 'circuit open: upstream is failing', status: 503 });
      expect(cb.calls).toBe(calls);
      // Resets count as well (after the open time, with a failed trial: open again at once).
      await sleep(650);
      cb.handler = reset;
      expect((await send('/cb/x')).status).toBe(502);
      expect(await breakerState('cb')).toBe(1);
      expect((await send('/cb/x')).status).toBe(503);
      expect(cb.calls).toBe(calls + 1);
    });

    it('half-open after timeoutSeconds lets exactly halfOpenRequests trials through at once, then closes', async () => {
      cb.reset();
      cb.handler = status(500);
      for (let i = 0; i < 6 && (await breakerState('cb')) !== 1; i++) await send('/cb/x');
      expect(await breakerState('cb')).toBe(1);
      await sleep(650);
      expect(await breakerState('cb')).toBe(2);
      cb.handler = slowly(150);
      const calls = cb.calls;
      const answers = await Promise.all(Array.from({ length: 6 }, () => send('/cb/trial')));
      expect(answers.map((a) => a.status).sort()).toEqual([200, 200, 503, 503, 503, 503]);
      expect(cb.calls - calls).toBe(2);
      expect(answers.filter((a) => a.status === 503).every((a) => a.headers.get('retry-after') === '1')).toBe(true);
      expect(await breakerState('cb')).toBe(0);
      cb.handler = undefined;
      expect((await send('/cb/x')).status).toBe(200);
    });

    it('a trial that outlasts its half-open period neither frees nor fills a trial slot of the next one', async () => {
      // /cb2: threshold 1, open 0.3 s, two trials, no route timeout.
      cb2.reset();
      const held: ServerResponse[] = [];
      cb2.handler = (req, res, body, m) => {
        if (req.url!.endsWith('/fail')) return status(500)(req, res, body, m);
        if (req.url!.endsWith('/more')) return status(200, '{}')(req, res, body, m);
        held.push(res);
      };
      const pending = (path: string) => {
        const controller = new AbortController();
        const answer = fetch(gw.url + path, { signal: controller.signal }).then(
          (r) => r.status,
          () => 'aborted' as const,
        );
        return { controller, answer };
      };
      expect((await send('/cb2/fail')).status).toBe(500);
      await sleep(350);
      // Period 1: trial A hangs, trial B fails and opens the breaker again.
      const a = pending('/cb2/hang');
      for (const end = Date.now() + 2000; held.length < 1 && Date.now() < end; ) await sleep(10);
      expect((await send('/cb2/fail')).status).toBe(500);
      expect(await breakerState('cb2')).toBe(1);
      await sleep(350);
      // Period 2: trials C and D hang; A, of period 1, is given up by its client.
      const c = pending('/cb2/hang');
      const d = pending('/cb2/hang');
      for (const end = Date.now() + 2000; held.length < 3 && Date.now() < end; ) await sleep(10);
      expect(held.length).toBe(3);
      a.controller.abort();
      expect(await a.answer).toBe('aborted');
      await sleep(50);
      const e = await send('/cb2/more');
      expect(e.status, 'a third trial while two are in flight').toBe(503);
      expect(cb2.calls).toBe(5);
      // A late success of an earlier period is not one of this period's: one success of C, with
      // D in flight, does not close it.
      for (const res of held.splice(0, 2)) res.writeHead(200).end('{}');
      expect(await c.answer).toBe(200);
      expect(await breakerState('cb2')).toBe(2);
      held.shift()!.writeHead(200).end('{}');
      expect(await d.answer).toBe(200);
      expect(await breakerState('cb2')).toBe(0);
    });

    it('a request body over the limit says nothing against the backend: it does not end a run of failures', async () => {
      cb.reset();
      await sleep(650);
      cb.handler = undefined;
      for (let i = 0; i < 3 && (await breakerState('cb')) !== 0; i++) await send('/cb/x');
      expect(await breakerState('cb')).toBe(0);
      cb.handler = status(500);
      for (let i = 0; i < 2; i++) expect((await send('/cb/x')).status).toBe(500);
      // Chunked, so the limit (GW_MAX_BODY_BYTES, 100,000) strikes while it is sent on.
      const port = Number(new URL(gw.url).port);
      const head = await new Promise<string>((resolve) => {
        const s = connect(port, '127.0.0.1', () => {
          s.write('POST /cb/upload HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: chunked\r\n\r\n');
          const chunk = `4000\r\n${'a'.repeat(0x4000)}\r\n`;
          let n = 0;
          const t = setInterval(() => {
            if (s.destroyed || ++n > 10) return clearInterval(t);
            s.write(chunk);
          }, 5);
        });
        let got = '';
        s.on('data', (d: Buffer) => {
          got += d.toString('latin1');
          if (got.includes('\r\n\r\n')) {
            resolve(got.split('\r\n')[0]!);
            s.destroy();
          }
        });
        s.on('error', () => resolve(got));
      });
      expect(head).toBe('HTTP/1.1 413 Payload Too Large');
      expect((await send('/cb/x')).status).toBe(500);
      expect(await breakerState('cb'), 'three failures of the backend in a row').toBe(1);
    });
  });

  describe('retries', () => {
    it('tries an idempotent request exactly retryAttempts more times, POST and PATCH once, and passes the last 5xx on as it came', async () => {
      const retries = async () => Number(/gateway_upstream_retries_total\{route="rt"\} (\d+)/.exec(await metrics())?.[1] ?? 0);
      for (const [method, tries] of [['GET', 4], ['PUT', 4], ['DELETE', 4], ['POST', 1], ['PATCH', 1]] as const) {
        rt.reset();
        rt.handler = status(500, 'boom');
        const before = await retries();
        const r = await send('/rt', method === 'GET' ? {} : { method, body: `payload of ${method}` });
        expect(r.status, method).toBe(500);
        expect(r.text).toBe('boom');
        expect(rt.calls, method).toBe(tries);
        expect(await retries(), method).toBe(before + tries - 1);
        if (method !== 'GET') expect(new Set(rt.bodies.map((b) => b.toString()))).toEqual(new Set([`payload of ${method}`]));
      }
      // 4xx are answers, not failures.
      rt.reset();
      rt.handler = status(429);
      expect((await send('/rt')).status).toBe(429);
      expect(rt.calls).toBe(1);
    });

    it('waits longer before each retry: exponential backoff from initialDelayMs', async () => {
      // initialDelayMs 40, multiplier 2, half of it random: waits of 20-40, 40-80 and 80-160 ms.
      rt.reset();
      rt.handler = status(503);
      expect((await send('/rt')).status).toBe(503);
      expect(rt.times.length).toBe(4);
      const gaps = rt.times.slice(1).map((t, i) => t - rt.times[i]!);
      // Timers never fire early (1 ms for rounding): a wait that did not grow would miss these.
      expect(gaps[0]!, JSON.stringify(gaps)).toBeGreaterThanOrEqual(19);
      expect(gaps[1]!, JSON.stringify(gaps)).toBeGreaterThanOrEqual(39);
      expect(gaps[2]!, JSON.stringify(gaps)).toBeGreaterThanOrEqual(79);
    });

    it('retries resets and per-try timeouts for GET only, and answers 502 and 504', async () => {
      rt.reset();
      rt.handler = reset;
      expect((await send('/rt')).status).toBe(502);
      expect(rt.calls).toBe(4);
      rt.reset();
      rt.handler = reset;
      expect((await send('/rt', { method: 'POST', body: 'x' })).status).toBe(502);
      expect(rt.calls).toBe(1);
      rt.reset();
      rt.handler = hang;
      const hung = await send('/rt');
      expect(hung.status).toBe(504);
      expect(rt.calls).toBe(4);
      // Four tries of 0.25 s each and three waits, within the route's 3 s.
      expect(hung.ms).toBeGreaterThanOrEqual(4 * 250 + 20 + 40 + 80 - 5);
      rt.reset();
      rt.handler = hang;
      const post = await send('/rt', { method: 'POST', body: 'x' });
      expect(post.status).toBe(504);
      expect(rt.calls).toBe(1);
      expect(post.ms).toBeLessThan(1000);
    });

    it('the route timeout ends the retries: 504 when it strikes, the per-try timeout before it', async () => {
      // /short: route timeout 0.5 s, per try 0.2 s, five retries that would take 1.2 s and more.
      rt.reset();
      rt.handler = hang;
      const r = await send('/short');
      expect(r.status).toBe(504);
      expect(JSON.parse(r.text)).toEqual({ error: 'upstream timed out', status: 504 });
      expect(r.ms).toBeGreaterThanOrEqual(495);
      expect(r.ms).toBeLessThan(1500);
      expect(rt.calls).toBeGreaterThanOrEqual(2);
      expect(rt.calls).toBeLessThanOrEqual(3);
    });

    it('replays a retried body intact: 90 KB of binary, with a length and chunked', async () => {
      const body = Buffer.alloc(90_000);
      for (let i = 0; i < body.length; i++) body[i] = (i * 7919) & 255;
      const digest = createHash('sha256').update(body).digest('hex');
      for (const chunked of [false, true]) {
        rt.reset();
        rt.handler = (req, res, _b, m) => (m.calls < 3 ? status(503)(req, res, _b, m) : status(200, 'stored')(req, res, _b, m));
        const init: RequestInit & { duplex?: 'half' } = chunked
          ? {
              method: 'PUT',
              body: new ReadableStream({
                start(c) {
                  c.enqueue(body.subarray(0, 40_000));
                  c.enqueue(body.subarray(40_000));
                  c.close();
                },
              }),
              duplex: 'half',
            }
          : { method: 'PUT', body };
        const r = await send('/rt', init);
        expect(r.status).toBe(200);
        expect(r.text).toBe('stored');
        expect(rt.bodies.map((b) => createHash('sha256').update(b).digest('hex'))).toEqual([digest, digest, digest]);
      }
    });
  });

  describe('splits and mirrors', () => {
    it('splits 70/30 by weight, and a matching canary header takes precedence over the weights', async () => {
      for (const m of v) m.reset();
      await many(1000, 10, () => backendOf('/split'));
      expectBinomial(v[0]!.calls, 1000, 0.7, 'v1');
      expect(v[0]!.calls + v[1]!.calls).toBe(1000);
      expect(v[2]!.calls).toBe(0);
      for (const m of v) m.reset();
      await many(100, 10, () => backendOf('/split', { headers: { 'x-canary': 'yes' } }));
      expect(v.map((m) => m.calls)).toEqual([0, 0, 100]);
      await many(200, 10, () => backendOf('/split', { headers: { 'x-canary': 'no' } }));
      expect(v[2]!.calls).toBe(100);
      expectBinomial(v[0]!.calls, 200, 0.7, 'v1 with another header value');
    });

    it('mirrors to a backend that never answers, or to a closed port, without delaying or changing an answer', async () => {
      main.reset();
      main.handler = (_req, res, body) => {
        res.writeHead(201, { 'content-type': 'text/plain', 'x-main': '1' });
        res.end(`main got ${body.length}`);
      };
      const check = async (what: string) => {
        let slowest = 0;
        for (let i = 0; i < 40; i++) {
          const r = await send('/mirror', { method: 'POST', body: 'x'.repeat(1000 + i) });
          expect(r.status, what).toBe(201);
          expect(r.headers.get('x-main')).toBe('1');
          expect(r.text).toBe(`main got ${1000 + i}`);
          slowest = Math.max(slowest, r.ms);
        }
        // The hanging mirror's own limit is GW_MIRROR_TIMEOUT_MS, 1 s: no answer waited for it.
        expect(slowest, what).toBeLessThan(900);
      };
      await check('hanging mirror');
      expect(holeSockets.size).toBeGreaterThan(0);
      for (const s of holeSockets) s.destroy();
      await new Promise((resolve) => hole.close(resolve));
      await check('mirror at a closed port');
      expect(main.calls).toBe(80);
    });

    it('mirrors mirrorPercent of the requests, each a copy with its body, marked X-Gateway-Mirror', async () => {
      shadow2.reset();
      main.reset();
      await many(1000, 10, (i) => send('/halfmirror', { method: 'PUT', body: `body ${i}` }));
      for (const end = Date.now() + 3000; Date.now() < end; await sleep(50)) {
        const before = shadow2.calls;
        await sleep(100);
        if (shadow2.calls === before) break;
      }
      expectBinomial(shadow2.calls, 1000, 0.25, 'mirrored');
      expect(shadow2.headers.every((h) => h['x-gateway-mirror'] === '1')).toBe(true);
      const sent = new Set(main.bodies.map((b) => b.toString()));
      expect(shadow2.bodies.every((b) => sent.has(b.toString()))).toBe(true);
      expect(main.calls).toBe(1000);
    });
  });

  describe('faults', () => {
    it('answers each fault with the right status, never crashes, and leaks no sockets or memory over rounds of them', async () => {
      const faults: Record<string, Handler> = {
        fail: status(500, 'x'),
        reset,
        midbody: (req, res) => {
          res.writeHead(200, { 'content-length': '1000' });
          res.write('a'.repeat(100));
          setTimeout(() => req.socket.destroy(), 5);
        },
        hang,
        // Slow-loris answer: a byte every 50 ms, past the route timeout (0.3 s).
        slowloris: (_req, res) => {
          res.writeHead(200, { 'content-length': '100' });
          res.write('x');
          const t = setInterval(() => (res.destroyed ? clearInterval(t) : res.write('x')), 50);
          res.on('close', () => clearInterval(t));
        },
        ok: status(200, 'fine'),
      };
      // A slow-loris answer is cut at the route timeout, or 504 when the timeout came before its
      // head (a busy machine may take that long to pass the request on; so may any other fault's).
      const expected: Record<string, readonly (number | 'cut')[]> = {
        fail: [500],
        reset: [502],
        midbody: ['cut'],
        hang: [504],
        slowloris: ['cut', 504],
        ok: [200],
      };
      faulty.handler = (req, res, body, m) => faults[req.url!.split('/')[2]!]!(req, res, body, m);
      const names = Object.keys(faults);
      const pid = gw.child.pid!;
      const fds = () => readdirSync(`/proc/${pid}/fd`).length;
      const rssMb = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;
      const samples: { fds: number; rss: number }[] = [];
      for (let round = 0; round < 6; round++) {
        await many(96, 24, async (i) => {
          const fault = names[i % names.length]!;
          let got: number | 'cut';
          const started = performance.now();
          try {
            const res = await fetch(`${gw.url}/plain/${fault}/${i}`);
            await res.arrayBuffer();
            got = res.status;
          } catch {
            got = 'cut';
          }
          // A 504 is right for any fault once the route timeout (0.3 s) has passed: on a loaded
          // machine it can come before the backend's answer or reset does.
          if (got === 504 && performance.now() - started >= 290) return;
          expect(expected[fault], `${fault}: ${got}`).toContain(got);
        });
        await sleep(300);
        samples.push({ fds: fds(), rss: rssMb() });
      }
      expect(gw.child.exitCode).toBeNull();
      expect((await send('/healthz')).status).toBe(200);
      const text = JSON.stringify(samples);
      // Sockets come and go with the keep-alive pools, but do not pile up round after round.
      expect(Math.max(...samples.slice(3).map((s) => s.fds)), text).toBeLessThanOrEqual(samples[1]!.fds + 10);
      expect(samples[5]!.rss - samples[2]!.rss, text).toBeLessThan(40);
    });
  });
});
