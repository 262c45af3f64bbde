import { connect as h2connect, createServer as createH2Server, type Http2Server } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accessLog, Backend, blackHole, buildGateway, startGateway, type GatewayProcess } from './gateway-helpers.js';

/**
 * The generated gateway against an instance whose TCP handshake never completes, as a host that
 * drops SYNs (test/fixtures/gateway/blackhole.ttl): undici's 5 s connect timeout is the only
 * time limit it applies to a connection under way, and a request learns of its abort only once a
 * connection takes it. The per-try timeout and the health checks' time limit must strike there
 * too, else a try waits out the connect timeout (the route's timeout, 504, when that is shorter)
 * instead of moving on to the instance that answers, and a dead host stays in rotation for
 * failureThresholdHealth × 5 s. Node's HTTP/2 client (gRPC services) has no connect timeout at
 * all: it must get the same 5 s.
 */

/** A gRPC-like service over h2c: every call is answered with an empty message and grpc-status 0. */
async function h2Service(): Promise<{ server: Http2Server; url: string; calls: () => number }> {
  let calls = 0;
  const server = createH2Server((req, res) => {
    req.resume();
    req.on('end', () => {
      calls++;
      res.writeHead(200, { 'content-type': 'application/grpc' });
      res.addTrailers({ 'grpc-status': '0' });
      res.end(Buffer.alloc(5));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, calls: () => calls };
}

/** One call over h2c with prior knowledge, as a gRPC client makes it: its HTTP status and grpc-status. */
function h2Call(url: string, path: string): Promise<{ status: number; grpc: string | undefined }> {
  return new Promise((resolve, reject) => {
    const session = h2connect(url);
    session.on('error', reject);
    const stream = session.request({ ':method': 'POST', ':path': path, 'content-type': 'application/grpc', te: 'trailers' });
    stream.on('response', (headers) => {
      let grpc = headers['grpc-status'] as string | undefined;
      stream.on('trailers', (t) => (grpc = t['grpc-status'] as string | undefined));
      stream.on('end', () => {
        session.close();
        resolve({ status: Number(headers[':status']), grpc });
      });
      stream.resume();
    });
    stream.on('error', reject);
    stream.end(Buffer.alloc(5));
  });
}
describe('generated gateway: an instance that drops SYNs (black-hole model)', () => {
  let dir = '';
  let gw: GatewayProcess;
  let hole: Awaited<ReturnType<typeof blackHole>>;
  /** performance.now() when the gateway listened: its health checks start then. */
  let started = 0;
  const depot = new Backend('depot');
  const rack = new Backend('rack');
  let index: Awaited<ReturnType<typeof h2Service>>;

  beforeAll(async () => {
    ({ dir } = await buildGateway('test/fixtures/gateway/blackhole.ttl'));
    hole = await blackHole();
    for (const b of [depot, rack]) await b.listen();
    index = await h2Service();
    gw = await startGateway(dir, {
      GW_UPSTREAM_DEPOT: `${hole.url},${depot.url}`,
      GW_UPSTREAM_RACKS: `${hole.url},${rack.url}`,
      GW_UPSTREAM_INDEX: `${hole.url},${index.url}`,
      // No passive ejection: every other request starts on the black hole.
      GW_EJECT_AFTER_FAILURES: '0',
      GW_ACCESS_LOG: 'stdout',
    });
    started = performance.now();
  });
  afterAll(async () => {
    await gw?.stop('SIGKILL');
    for (const b of [depot, rack]) await b.stop();
    index?.server.close();
    await hole?.close();
  });

  it('a probe that cannot connect fails at its time limit: the instance is out long before 2 connect timeouts', async () => {
    const gauge = async () => {
      const text = await (await fetch(`${gw.url}/metrics`)).text();
      return Number(new RegExp(`gateway_upstream_healthy\\{service="racks",instance="${hole.url}"\\} (\\d+)`).exec(text)?.[1]);
    };
    // Two probes of 1 s each, the second at most 2 s after the first: out within 4 s. At undici's
    // connect timeout alone the second would fail 11 s after the start at the earliest.
    const deadline = started + 8_000;
    while ((await gauge()) !== 0) {
      if (performance.now() > deadline) throw new Error('the black-holed instance is still in rotation');
      await new Promise((r) => setTimeout(r, 25));
    }
    for (let i = 0; i < 4; i++) {
      const r = await fetch(`${gw.url}/shelf`);
      expect(r.status).toBe(200);
      expect(((await r.json()) as { backend: string }).backend).toBe('rack');
    }
  });

  it('a try still connecting when its per-try timeout strikes is retried on the other instance', async () => {
    for (let i = 0; i < 6; i++) {
      const r = await fetch(`${gw.url}/stock`);
      const body = await r.text();
      expect(r.status, body).toBe(200);
      expect(JSON.parse(body)).toMatchObject({ backend: 'depot' });
    }
    expect(depot.calls).toBe(6);
    // Round robin started every other request on the black hole: three of them took two tries.
    // The access log is written in batches: its lines may come after the answers.
    const lines = () => accessLog(gw).filter((l) => l.route === 'stock');
    const deadline = performance.now() + 10_000;
    while (lines().length < 6 && performance.now() < deadline) await new Promise((r) => setTimeout(r, 25));
    expect(lines().map((l) => l.status)).toEqual([200, 200, 200, 200, 200, 200]);
    expect(lines().filter((l) => l.tries === 2)).toHaveLength(3);
  });

  it('a POST whose try never got a connection is retried as after a refused connection: the backend never saw it', async () => {
    for (let i = 0; i < 4; i++) {
      const r = await fetch(`${gw.url}/orders`, { method: 'POST', body: `order ${i}` });
      const body = await r.text();
      expect(r.status, body).toBe(200);
      expect(JSON.parse(body)).toMatchObject({ backend: 'depot', bytes: 7 });
    }
    const lines = () => accessLog(gw).filter((l) => l.route === 'orders');
    const deadline = performance.now() + 10_000;
    while (lines().length < 4 && performance.now() < deadline) await new Promise((r) => setTimeout(r, 25));
    expect(lines().filter((l) => l.tries === 2)).toHaveLength(2);
  });

  it('a gRPC call to an instance that drops SYNs fails as a refused connection at 5 s, and is retried on the other instance', async () => {
    // Two calls: round robin starts one of them on the black hole (the route's timeout is 15 s).
    for (let i = 0; i < 2; i++) expect(await h2Call(gw.url, '/blackhole.Lookup/Find')).toEqual({ status: 200, grpc: '0' });
    expect(index.calls()).toBe(2);
  });

  it('a gRPC call whose per-try timeout strikes while the session still connects is retried on the other instance', async () => {
    for (let i = 0; i < 2; i++) expect(await h2Call(gw.url, '/blackhole.Quick/Find')).toEqual({ status: 200, grpc: '0' });
    expect(index.calls()).toBe(4);
  });

});
