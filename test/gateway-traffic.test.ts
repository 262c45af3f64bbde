import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accessLog, Backend, buildGateway, rawExchange, startGateway, type GatewayProcess } from './gateway-helpers.js';

/**
 * Traffic features of the generated gateway, black-box over real sockets
 * (test/fixtures/gateway/traffic.ttl): the route's timeout on a WebSocket handshake, and where a
 * weighted split's share goes when its service fails (retries, health checks), and the headers
 * of a mirrored copy, and the round-robin of a route mirrored to its own service.
 */

const WS_HEAD = 'Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n';

/** Waits until `condition` holds, polling, for at most 15 s. */
async function until(what: string, condition: () => boolean | Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('generated gateway traffic: WebSocket handshakes and split shares, over real sockets', () => {
  let dir = '';
  let gw: GatewayProcess;
  const socket = new Backend('socket');
  const stable = new Backend('stable');
  const canary = new Backend('canary');
  const probed = new Backend('probed');
  const shadow = new Backend('shadow');
  const pairA = new Backend('pair-a');
  const pairB = new Backend('pair-b');
  const all = [socket, stable, canary, probed, shadow, pairA, pairB];

  beforeAll(async () => {
    ({ dir } = await buildGateway('test/fixtures/gateway/traffic.ttl'));
    for (const b of all) await b.listen();
    gw = await startGateway(dir, {
      GW_UPSTREAM_SOCKET: socket.url,
      GW_UPSTREAM_STABLE: stable.url,
      GW_UPSTREAM_CANARY: canary.url,
      GW_UPSTREAM_PROBED: probed.url,
      GW_UPSTREAM_SHADOW: shadow.url,
      GW_UPSTREAM_PAIR: `${pairA.url},${pairB.url}`,
      // Passive ejection would take the failing split's instance out, which is not under test.
      GW_EJECT_AFTER_FAILURES: '0',
      GW_ACCESS_LOG: 'stdout',
    });
  });
  afterAll(async () => {
    await gw?.stop('SIGKILL');
    for (const b of all) await b.stop();
  });

  /** A WebSocket handshake on a connection of its own: what came back until the gateway closed it, or `ms` passed. */
  const handshake = (path: string, ms: number) => rawExchange(gw.url, `GET ${path} HTTP/1.1\r\nHost: traffic.example\r\n${WS_HEAD}\r\n`, ms);

  it('answers 504 when the backend never answers a WebSocket upgrade within the route timeout, and lets go of its connection', async () => {
    socket.holdUpgrade = true;
    try {
      // The route's timeout is 0.5 s; 20 s is only the test's own limit.
      const answer = await handshake('/live', 20_000);
      expect(answer.status, answer.all).toBe(504);
      expect(JSON.parse(answer.body)).toEqual({ error: 'upstream timed out', status: 504 });
      expect(socket.calls).toBe(1);
      // The upgrade request to the backend was aborted, not left to hang on a pool connection.
      await until('the held upgrade connection to close', () => socket.held.size === 0);
      // Its access-log line names the instance that did not answer, as for any request.
      await until('the log line', () => accessLog(gw).some((l) => l.route === 'live'));
      expect(accessLog(gw).filter((l) => l.route === 'live')).toMatchObject([{ status: 504, upstream: socket.url, error: 'route timeout' }]);
    } finally {
      socket.holdUpgrade = false;
    }
  });

  it('lets go of the backend connection of a handshake whose client went away before the backend answered (499)', async () => {
    socket.holdUpgrade = true;
    try {
      const client = connect(Number(new URL(gw.url).port), '127.0.0.1');
      client.on('error', () => undefined);
      client.write(`GET /chat HTTP/1.1\r\nHost: traffic.example\r\n${WS_HEAD}\r\n`);
      await until('the backend to hold the upgrade', () => socket.held.size === 1);
      client.destroy();
      // The route has no timeout: only the client's leaving can end the upgrade request.
      await until('the held upgrade connection to close', () => socket.held.size === 0);
      await until('the log line', () => accessLog(gw).some((l) => l.route === 'chat'));
      expect(accessLog(gw).filter((l) => l.route === 'chat')).toMatchObject([{ status: 499, upstream: socket.url, error: 'client closed the connection' }]);
    } finally {
      socket.holdUpgrade = false;
    }
  });

  it('bounds only the handshake: a switched tunnel outlives the route timeout', async () => {
    const tunnel = connect(Number(new URL(gw.url).port), '127.0.0.1');
    try {
      let got = '';
      tunnel.setEncoding('latin1').on('data', (d: string) => (got += d));
      // Bytes sent before the 101 (RFC 6455 has a client wait, but they may come) reach the backend after it.
      tunnel.write(`GET /live HTTP/1.1\r\nHost: traffic.example\r\n${WS_HEAD}\r\nearly`);
      await until('the 101 and the early bytes echoed', () => got.endsWith('early'));
      expect(got.startsWith('HTTP/1.1 101 ')).toBe(true);
      const switchedAt = performance.now();
      // Past three route timeouts (0.5 s each), the tunnel still carries bytes both ways (the backend echoes).
      await until('three route timeouts', () => performance.now() - switchedAt > 1500);
      tunnel.write('still here');
      await until('the echo', () => got.endsWith('still here'));
      expect(tunnel.destroyed).toBe(false);
      await until('the log line of the 101', () => accessLog(gw).some((l) => l.status === 101));
      expect(accessLog(gw).filter((l) => l.status === 101)).toMatchObject([{ route: 'live', upstream: socket.url }]);
    } finally {
      tunnel.destroy();
    }
  });

  it('matches a canary header named __proto__, as Kong and Envoy do (Node\'s header object cannot hold it)', async () => {
    stable.calls = 0;
    canary.calls = 0;
    const answers = await Promise.all([rawExchange(gw.url, 'GET /proto HTTP/1.1\r\nHost: traffic.example\r\n__proto__: yes\r\nConnection: close\r\n\r\n'), rawExchange(gw.url, 'GET /proto HTTP/1.1\r\nHost: traffic.example\r\n__proto__: no\r\nConnection: close\r\n\r\n')]);
    expect(answers.map((a) => a.status)).toEqual([200, 200]);
    expect([canary.calls, stable.calls]).toEqual([1, 1]);
  });

  it('keeps a request on the split it drew: retries go to that split service, never to another split', async () => {
    stable.behaviour = 'fail';
    stable.calls = 0;
    canary.calls = 0;
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 60; i++) {
        const res = await fetch(`${gw.url}/retried`);
        await res.arrayBuffer();
        statuses.push(res.status);
      }
      const failed = statuses.filter((s) => s === 500).length;
      const served = statuses.filter((s) => s === 200).length;
      expect(failed + served).toBe(60);
      // 50/50 over 60 requests: both shares are drawn (a chance of 2^-59 that one is not).
      expect(failed).toBeGreaterThan(0);
      expect(served).toBeGreaterThan(0);
      // Each request that drew the failing split was tried there three times (2 retries) and
      // answered with its 500; none of its retries reached the other split.
      expect(stable.calls).toBe(3 * failed);
      expect(canary.calls).toBe(served);
    } finally {
      stable.behaviour = 'ok';
    }
  });

  it("answers 503 for the share of a split whose service has no healthy instance; the other split's share is served", async () => {
    probed.healthy = false;
    try {
      // Out after one failed probe (every 0.2 s): the first 503 says the health check took it out.
      await until('the probed split to be taken out', async () => (await fetch(`${gw.url}/checked`).then(async (r) => (await r.arrayBuffer(), r.status))) === 503);
      stable.calls = 0;
      probed.calls = 0;
      const statuses: number[] = [];
      for (let i = 0; i < 60; i++) {
        const res = await fetch(`${gw.url}/checked`);
        const body = await res.text();
        statuses.push(res.status);
        if (res.status === 503) {
          expect(JSON.parse(body).error).toBe('no healthy upstream instance');
          expect(res.headers.get('retry-after')).toBe('1');
        }
      }
      const refused = statuses.filter((s) => s === 503).length;
      expect(refused).toBeGreaterThan(0);
      expect(stable.calls).toBe(60 - refused);
      expect(stable.calls).toBeGreaterThan(0);
      expect(probed.calls).toBe(0);
    } finally {
      probed.healthy = true;
    }
    await until('the probed split to be taken back', async () => {
      const res = await fetch(`${gw.url}/checked`);
      return ((await res.json()) as { backend?: string }).backend === 'probed';
    });
  });

  it("sends a mirrored copy, body included, with its own service's address as Host and the client's as X-Forwarded-Host, as the original", async () => {
    const before = stable.receivedHeaders.length;
    const res = await fetch(`${gw.url}/copied/x?y=1`, { method: 'POST', body: 'seven b', headers: { 'x-gateway-mirror': 'forged' } });
    expect(res.status).toBe(200);
    const original = (await res.json()) as { url: string; headers: Record<string, string> };
    await until('the copy', () => shadow.receivedHeaders.length === 1);
    const copy = shadow.receivedHeaders[0]!;
    expect(stable.receivedHeaders.length).toBe(before + 1);
    expect(original.url).toBe('/copied/x?y=1');
    expect(shadow.received).toEqual([7]);
    expect(original.headers.host).toBe(`127.0.0.1:${stable.port}`);
    expect(copy.host).toBe(`127.0.0.1:${shadow.port}`);
    const client = new URL(gw.url).host;
    expect(original.headers['x-forwarded-host']).toBe(client);
    expect(copy['x-forwarded-host']).toBe(client);
    // The mark is the gateway's alone: a client's own goes nowhere.
    expect(original.headers['x-gateway-mirror']).toBeUndefined();
    expect(copy['x-gateway-mirror']).toBe('1');
  });

  it('keeps the round-robin of a route mirrored to its own service: requests alternate over its instances, and so do the copies', async () => {
    for (let i = 0; i < 40; i++) {
      const res = await fetch(`${gw.url}/echoed`);
      expect(res.status).toBe(200);
      await res.arrayBuffer();
    }
    const count = (b: Backend, copies: boolean) => b.receivedHeaders.filter((h) => (h['x-gateway-mirror'] === '1') === copies).length;
    await until('the 40 copies', () => count(pairA, true) + count(pairB, true) === 40);
    // One rotation moved by requests and copies alike would send every request to one instance
    // and every copy to the other.
    expect([count(pairA, false), count(pairB, false)]).toEqual([20, 20]);
    expect([count(pairA, true), count(pairB, true)]).toEqual([20, 20]);
  });
});
