import { createServer, type IncomingMessage, type Server } from 'node:http';
import { existsSync, readdirSync, readlinkSync } from 'node:fs';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accessLog, buildGateway, parseAnswer, startGateway, TestServer, type GatewayProcess, type RawAnswer } from './gateway-helpers.js';

/**
 * The generated gateway facing unusual or hostile HTTP/1 clients, over raw sockets: request lines
 * Node's parser reads though they are no HTTP/1 (HTTP/0.9, "HTTP/2.0"), framing a proxy must not
 * pass on ambiguously, paths a backend would read otherwise, and clients that stall.
 */

interface Answer extends RawAnswer {
  /** Whether the gateway closed the connection (else the test did, after `ms`). */
  closed: boolean;
  /** How long until the connection closed. */
  ms: number;
}

function parse(all: string, closed: boolean, ms: number): Answer {
  return { ...parseAnswer(all), closed, ms };
}

/**
 * Sends `parts` as written (latin1) on a connection of its own, `gapMs` apart, and collects what
 * comes back until the gateway closes the connection or `ms` pass.
 */
function exchange(url: string, parts: string | readonly string[], ms = 3000, gapMs = 0): Promise<Answer> {
  const list = typeof parts === 'string' ? [parts] : parts;
  return new Promise((resolve, reject) => {
    const start = performance.now();
    const timers: NodeJS.Timeout[] = [];
    const socket = connect(Number(new URL(url).port), '127.0.0.1', () => {
      list.forEach((part, i) => timers.push(setTimeout(() => socket.writable && socket.write(part, 'latin1'), i * gapMs)));
    });
    let all = '';
    let closed = false;
    timers.push(setTimeout(() => socket.destroy(), ms));
    socket.setEncoding('latin1').on('data', (d: string) => (all += d));
    socket.on('end', () => (closed = true));
    socket.on('close', () => {
      for (const t of timers) clearTimeout(t);
      resolve(parse(all, closed, performance.now() - start));
    });
    socket.on('error', reject);
  });
}

/** A backend that answers in JSON what it got; "/slow…" paths after 1.5 s. It notes uploads cut short. */
class EchoBackend extends TestServer {
  readonly seen: { method: string; url: string; headers: IncomingMessage['headers']; bytes: number }[] = [];
  /** Requests whose body the gateway cut off (the backend saw the connection end mid-body). */
  cut = 0;

  protected createServer(): Server {
    const server = createServer((req, res) => {
      // "/drop…": the connection ends as the head arrives (the gateway's 502).
      if (req.url?.startsWith('/drop')) return void req.socket.destroy();
      let bytes = 0;
      req.on('data', (c: Buffer) => (bytes += c.length));
      req.on('aborted', () => this.cut++);
      req.on('end', () => {
        this.seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, bytes });
        const body = JSON.stringify({ method: req.method, url: req.url, bytes, headers: req.headers });
        const answer = () => {
          res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
          res.end(body);
        };
        if (req.url?.startsWith('/slow')) setTimeout(answer, 1500);
        else answer();
      });
    });
    // Every header the gateway forwards, however many (Node's default keeps ~1,000).
    server.maxHeadersCount = 0;
    return server;
  }
}

const H = 'Host: edge.example\r\n';
const WS = 'Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n';

describe('generated gateway: unusual and hostile HTTP/1 clients (http-edge model), over raw sockets', () => {
  let dir = '';
  const app = new EchoBackend();
  let gw: GatewayProcess;
  const started: GatewayProcess[] = [];

  beforeAll(async () => {
    ({ dir } = await buildGateway('test/fixtures/gateway/http-edge.ttl'));
    await app.listen();
    gw = await startGateway(dir, { GW_UPSTREAM_APP: app.url });
  });
  afterAll(async () => {
    await gw?.stop('SIGKILL');
    for (const g of started) await g.stop('SIGKILL');
    await app.stop();
  });
  const start = async (env: Record<string, string>) => {
    const g = await startGateway(dir, { GW_UPSTREAM_APP: app.url, ...env });
    started.push(g);
    return g;
  };
  const calls = () => app.seen.length;

  it('answers 505 to request lines of HTTP/0.9 and "HTTP/2.0", which Node\'s HTTP/1 parser reads, and closes: no uncaught exception, no connection held, no request past the head checks', async () => {
    const before = calls();
    for (const text of [
      // Taken for an HTTP/2 stream, this one threw in the gateway and was never answered.
      `GET /x HTTP/2.0\r\n${H}\r\n`,
      `POST /x HTTP/2.0\r\n${H}Content-Length: 3\r\n\r\nabc`,
      // HTTP/0.9 skipped every check of the head: no Host needed, any transfer coding, any target.
      'GET /x\r\n\r\n',
      'POST /x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n',
      'GET http://evil.example/getonly\r\n\r\n',
      `GET /x HTTP/0.9\r\n${H}\r\n`,
      // WebSocket handshakes too.
      `GET /ws HTTP/2.0\r\n${H}${WS}\r\n`,
      `GET /ws\r\n${WS}\r\n`,
    ]) {
      const answer = await exchange(gw.url, text);
      expect(answer.status, text).toBe(505);
      expect(answer.closed, text).toBe(true);
      expect(answer.headers['content-type'], text).toMatch(/^application\/json/);
      expect(JSON.parse(answer.body), text).toEqual({ error: 'HTTP version not supported (only HTTP/1.0 and HTTP/1.1)', status: 505 });
    }
    expect(calls()).toBe(before);
    expect(gw.stderr()).not.toContain('uncaught exception');
    // HTTP/1.0 and 1.1 go on as ever.
    for (const version of ['1.0', '1.1']) {
      const ok = await exchange(gw.url, `GET /x HTTP/${version}\r\n${H}Connection: close\r\n\r\n`);
      expect(ok.status, version).toBe(200);
    }
  });

  it('refuses an HTTP/1.0 request with a Transfer-Encoding (RFC 9112 §6.1: faulty framing) with 400 and closes, instead of forwarding it chunked', async () => {
    const before = calls();
    for (const te of ['chunked', 'Chunked']) {
      // Whoever reads this by HTTP/1.0's rules sees no body, and "3\r\nabc…" as what follows.
      const answer = await exchange(gw.url, `POST /x HTTP/1.0\r\n${H}Transfer-Encoding: ${te}\r\n\r\n3\r\nabc\r\n0\r\n\r\nGET /smuggled HTTP/1.0\r\n${H}\r\n`);
      expect(answer.status, te).toBe(400);
      expect(answer.closed, te).toBe(true);
      expect(JSON.parse(answer.body)).toEqual({ error: 'an HTTP/1.0 request cannot have a Transfer-Encoding', status: 400 });
      expect(answer.all.split('HTTP/1.1 ')).toHaveLength(2);
    }
    expect(calls()).toBe(before);
    // An HTTP/1.0 body with a Content-Length passes.
    const ok = await exchange(gw.url, `POST /x HTTP/1.0\r\n${H}Content-Length: 3\r\n\r\nabc`);
    expect(ok.status).toBe(200);
    expect(JSON.parse(ok.body).bytes).toBe(3);
  });

  it('refuses a path with an encoded NUL (%00) with 400, as nginx does; the query may hold one', async () => {
    const before = calls();
    for (const target of ['/a%00b', '/files/report.pdf%00.png', '/%00', '/a/%00/b?x=1']) {
      const answer = await exchange(gw.url, `GET ${target} HTTP/1.1\r\n${H}Connection: close\r\n\r\n`);
      expect(answer.status, target).toBe(400);
      expect(JSON.parse(answer.body), target).toEqual({ error: 'path has an encoded NUL (%00)', status: 400 });
    }
    expect(calls()).toBe(before);
    const query = await exchange(gw.url, `GET /x?q=%00 HTTP/1.1\r\n${H}Connection: close\r\n\r\n`);
    expect(query.status).toBe(200);
    expect(JSON.parse(query.body).url).toBe('/x?q=%00');
  });

  it('sees every header line, however many (Node passes on ~1,000 and drops the rest, yet frames the body by them): the body reaches the backend, a second Host is refused', async () => {
    let many = '';
    for (let i = 0; i < 1500; i++) many += `x-${i}:y\r\n`;
    const chunked = await exchange(gw.url, `POST /x HTTP/1.1\r\n${H}${many}Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n3\r\nabc\r\n0\r\n\r\n`);
    expect(chunked.status).toBe(200);
    expect(JSON.parse(chunked.body)).toMatchObject({ bytes: 3, headers: { 'x-1499': 'y', 'transfer-encoding': 'chunked' } });
    const before = calls();
    const hosts = await exchange(gw.url, `GET /x HTTP/1.1\r\n${H}${many}Host: other.example\r\nConnection: close\r\n\r\n`);
    expect(hosts.status).toBe(400);
    expect(JSON.parse(hosts.body)).toEqual({ error: 'request has more than one Host header', status: 400 });
    const coded = await exchange(gw.url, `POST /x HTTP/1.1\r\n${H}${many}Transfer-Encoding: gzip, chunked\r\nConnection: close\r\n\r\n3\r\nabc\r\n0\r\n\r\n`);
    expect(coded.status).toBe(501);
    expect(calls()).toBe(before);
  });

  it('answers 408 to a request head not complete within GW_CLIENT_TIMEOUT_MS, instead of 400 (Node: 60 s, checked every 30 s)', async () => {
    const quick = await start({ GW_CLIENT_TIMEOUT_MS: '1000', GW_ACCESS_LOG: 'stdout' });
    const answer = await exchange(quick.url, `GET /x HTTP/1.1\r\n${H}X-Half: a`, 6000);
    expect(answer.status).toBe(408);
    expect(answer.closed).toBe(true);
    expect(answer.ms).toBeLessThan(4000);
    expect(JSON.parse(answer.body)).toEqual({ error: 'client did not send the request in time', status: 408 });
    await quick.stop('SIGTERM');
    expect(accessLog(quick).map((e) => [e.status, e.error])).toEqual([[408, 'ERR_HTTP_REQUEST_TIMEOUT']]);
  });

  it('answers 408 to a body that pauses longer than GW_CLIENT_TIMEOUT_MS, streamed or buffered, and lets the backend connection go; a slow but steady body and a slow backend are no such pause', async () => {
    const quick = await start({ GW_CLIENT_TIMEOUT_MS: '1000', GW_ACCESS_LOG: 'stdout' });
    const before = calls();
    const cut = app.cut;
    const stalled = await Promise.all([
      // Streamed to the backend as it comes (the backend waits for the rest).
      exchange(quick.url, `POST /x HTTP/1.1\r\n${H}Content-Length: 100\r\n\r\nabc`, 6000),
      exchange(quick.url, `POST /x HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n`, 6000),
      // Buffered first (the route may replay it): the backend is never called.
      exchange(quick.url, `POST /replayed HTTP/1.1\r\n${H}Content-Length: 100\r\n\r\nabc`, 6000),
      // After a 100 Continue, the client does not send the body it announced.
      exchange(quick.url, `POST /x HTTP/1.1\r\n${H}Content-Length: 5\r\nExpect: 100-continue\r\n\r\n`, 6000),
    ]);
    for (const { all, closed, ms } of stalled) {
      const answer = parse(all.replace(/^HTTP\/1\.1 100 Continue\r\n\r\n/, ''), closed, ms);
      expect(answer.status, all).toBe(408);
      expect(answer.closed).toBe(true);
      expect(answer.ms).toBeLessThan(4000);
      expect(JSON.parse(answer.body)).toEqual({ error: 'client did not send the request in time', status: 408 });
    }
    expect(calls()).toBe(before);
    // The two streamed uploads that had sent part of their body had reached the backend, which
    // saw them end (the one after 100 Continue may not have: undici sends a head with a first chunk).
    for (let i = 0; i < 50 && app.cut < cut + 2; i++) await new Promise((r) => setTimeout(r, 50));
    expect(app.cut).toBeGreaterThanOrEqual(cut + 2);
    // Ten bytes, one every 300 ms: 3 s in all, but never a pause of 1 s.
    const steady = await exchange(quick.url, [`POST /x HTTP/1.1\r\n${H}Content-Length: 10\r\nConnection: close\r\n\r\n`, ...'0123456789'], 8000, 300);
    expect(steady.status).toBe(200);
    expect(JSON.parse(steady.body).bytes).toBe(10);
    // A body sent in two parts, then a backend that takes 1.5 s: the wait is the backend's, and
    // the connection is kept alive after the answer (Node's keep-alive timeout, 65 s).
    const slow = await exchange(quick.url, [`POST /slow HTTP/1.1\r\n${H}Content-Length: 6\r\n\r\nabc`, 'def'], 3500, 300);
    expect(slow.status).toBe(200);
    expect(JSON.parse(slow.body).bytes).toBe(6);
    expect(slow.closed).toBe(false);
    await quick.stop('SIGTERM');
    const timedOut = accessLog(quick).filter((e) => e.status === 408);
    expect(timedOut.map((e) => [e.route, e.error])).toEqual(Array(4).fill([expect.any(String), 'client stopped sending the request body']));
  });

  it("closes the connection after its own 504 or 502 to an upload whose body is not all in: Node would wait for the rest before the next request, which a stalled client never sends", async () => {
    const quick = await start({ GW_CLIENT_TIMEOUT_MS: '30000' });
    const [timedOut, dropped] = await Promise.all([
      exchange(quick.url, `POST /deadline HTTP/1.1\r\n${H}Content-Length: 100\r\n\r\nabc`, 6000),
      exchange(quick.url, `POST /drop HTTP/1.1\r\n${H}Content-Length: 100\r\n\r\nabc`, 6000),
    ]);
    for (const [answer, status] of [[timedOut, 504], [dropped, 502]] as const) {
      expect(answer.status, answer.all).toBe(status);
      expect(answer.headers.connection).toBe('close');
      expect(answer.closed).toBe(true);
      expect(answer.ms).toBeLessThan(4000);
    }
  });

  it.runIf(existsSync('/proc/self/fd'))("lets go of every connection whose request Node's parser refuses once its client closes (it was held open for good, a socket per bad request)", async () => {
    const pid = gw.child.pid!;
    const sockets = () =>
      readdirSync(`/proc/${pid}/fd`).filter((fd) => {
        try {
          return readlinkSync(`/proc/${pid}/fd/${fd}`).startsWith('socket:');
        } catch {
          return false;
        }
      }).length;
    const before = sockets();
    const answers = await Promise.all(Array.from({ length: 40 }, (_, i) => exchange(gw.url, i % 2 === 0 ? 'FOOBAR / HTTP/1.1\r\n\r\n' : `GET /${'a'.repeat(17_000)} HTTP/1.1\r\n${H}\r\n`, 3000)));
    expect(answers.map((a) => a.status).sort()).toEqual([...Array(20).fill(400), ...Array(20).fill(431)]);
    for (let i = 0; i < 60 && sockets() > before + 2; i++) await new Promise((r) => setTimeout(r, 50));
    expect(sockets()).toBeLessThanOrEqual(before + 2);
  });

  it('keeps refusing ambiguous framing with 400 and a closed connection, never forwarding it (request smuggling)', async () => {
    const before = calls();
    for (const framing of [
      'Content-Length: 3\r\nTransfer-Encoding: chunked\r\n',
      'Transfer-Encoding: chunked\r\nContent-Length: 3\r\n',
      'Content-Length: 3\r\nContent-Length: 5\r\n',
      'Content-Length: 3, 3\r\n',
      'Transfer-Encoding: chunked, identity\r\n',
      'Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n',
      'Transfer-Encoding : chunked\r\n',
      'X-Folded: a\r\n b\r\n',
    ]) {
      const answer = await exchange(gw.url, `POST /x HTTP/1.1\r\n${H}${framing}\r\n3\r\nabc\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\n${H}\r\n`);
      expect(answer.status, framing).toBe(400);
      expect(answer.closed, framing).toBe(true);
      expect(answer.all.split('HTTP/1.1 '), framing).toHaveLength(2);
    }
    expect(calls()).toBe(before);
  });

  it('closes the connection after refusing a request head whose Host, target or transfer coding breaks RFC 9112 (as nginx does), OPTIONS * too, saying so, and answers nothing after it', async () => {
    const before = calls();
    for (const [text, status] of [
      ['GET /x HTTP/1.1\r\n\r\n', 400],
      [`GET /x HTTP/1.1\r\n${H}Host: other.example\r\n\r\n`, 400],
      ['GET /x HTTP/1.1\r\nHost: a b\r\n\r\n', 400],
      [`GET ftp://edge.example/x HTTP/1.1\r\n${H}\r\n`, 400],
      // The server-wide OPTIONS is a request like any other: it was answered 200 without these checks.
      ['OPTIONS * HTTP/1.1\r\n\r\n', 400],
      [`OPTIONS * HTTP/1.1\r\n${H}Host: other.example\r\n\r\n`, 400],
      [`OPTIONS * HTTP/1.1\r\n${H}Transfer-Encoding: gzip\r\n\r\n3\r\nabc\r\n0\r\n\r\n`, 501],
      // Its body cannot be framed: read on, it was taken for a next request and answered 400 too.
      [`POST /x HTTP/1.1\r\n${H}Transfer-Encoding: gzip\r\n\r\n3\r\nabc\r\n0\r\n\r\n`, 501],
    ] as const) {
      const answer = await exchange(gw.url, text, 10_000);
      expect(answer.status, text).toBe(status);
      expect(answer.headers.connection, text).toBe('close');
      expect(answer.closed, text).toBe(true);
      expect(answer.all.split('HTTP/1.1 '), text).toHaveLength(2);
    }
    // One of the gateway's own answers that closes the connection is its last, also when a
    // malformed request follows in the same packet (Node's parser reports it before the answer's 'finish').
    const asterisk = await exchange(gw.url, `OPTIONS * HTTP/1.1\r\n${H}Connection: close\r\n\r\n`, 10_000);
    expect(asterisk.status).toBe(200);
    for (const text of [`DELETE /getonly HTTP/1.1\r\n${H}Connection: close\r\n\r\nNOT HTTP AT ALL\r\n\r\n`, `GET /x HTTP/1.1\r\n\r\nNOT HTTP AT ALL\r\n\r\n`]) {
      const answer = await exchange(gw.url, text, 10_000);
      expect(answer.closed, text).toBe(true);
      expect(answer.all.split('HTTP/1.1 '), text).toHaveLength(2);
    }
    expect(calls()).toBe(before);
  });

  it('ignores the Upgrade of an HTTP/1.0 request (RFC 9110 §7.8; no WebSocket over HTTP/1.0) and answers it as a plain request, never switching', async () => {
    const answer = await exchange(gw.url, `GET /ws HTTP/1.0\r\n${H}${WS}\r\n`, 10_000);
    expect(answer.status).toBe(200);
    expect(answer.closed).toBe(true);
    const got = JSON.parse(answer.body) as { url: string; headers: IncomingMessage['headers'] };
    expect(got.url).toBe('/ws');
    expect(got.headers.upgrade).toBeUndefined();
    expect(got.headers['sec-websocket-key']).toBe('dGhlIHNhbXBsZSBub25jZQ==');
  });

  it('answers pipelined requests in order, a slow first one included, and an HTTP/1.0 client without chunked framing or keep-alive', async () => {
    const pipelined = await exchange(gw.url, `GET /slow/1 HTTP/1.1\r\n${H}\r\nGET /2 HTTP/1.1\r\n${H}\r\nGET /3 HTTP/1.1\r\n${H}Connection: close\r\n\r\n`, 5000);
    const urls = pipelined.all.split(/(?=HTTP\/1\.1 )/).map((a) => JSON.parse(parse(a, true, 0).body).url);
    expect(urls).toEqual(['/slow/1', '/2', '/3']);
    const old = await exchange(gw.url, `GET /x HTTP/1.0\r\n${H}\r\n`);
    expect(old.status).toBe(200);
    expect(old.closed).toBe(true);
    expect(old.headers['transfer-encoding']).toBeUndefined();
  });

  it('answers the requests before a malformed pipelined one first, then 400 and closes; after a request that closes the connection (HTTP/1.0, Connection: close), what follows is ignored, not answered 400 in its place', async () => {
    // The malformed request was answered at once, in place of the slow one before it: the client
    // read the 400 as that request's answer, though the backend had served it (a POST executed).
    const g = await start({ GW_ACCESS_LOG: 'stdout' });
    const before = calls();
    const bad = await exchange(g.url, [`POST /slow/a HTTP/1.1\r\n${H}Content-Length: 3\r\n\r\nabcGET /a b c\r\n\r\n`], 5000);
    const answers = bad.all.split(/(?=HTTP\/1\.1 )/).map((a) => parse(a, true, 0));
    expect(answers.map((a) => a.status)).toEqual([200, 400]);
    expect(JSON.parse(answers[0]!.body).url).toBe('/slow/a');
    expect(JSON.parse(answers[1]!.body)).toEqual({ error: 'bad request', status: 400 });
    expect(bad.closed).toBe(true);
    expect(calls()).toBe(before + 1);
    // RFC 9112 §9.6: no request after one that closes the connection is processed, nor answered.
    for (const first of [`POST /slow/b HTTP/1.0\r\n${H}Content-Length: 3\r\n\r\nabc`, `GET /slow/c HTTP/1.1\r\n${H}Connection: close\r\n\r\n`]) {
      const closing = await exchange(g.url, [`${first}GET /next HTTP/1.1\r\n${H}\r\n`], 5000);
      expect(closing.status, first).toBe(200);
      expect(closing.all.split(/HTTP\/1\.1 \d/), first).toHaveLength(2);
      expect(closing.closed, first).toBe(true);
    }
    expect(calls()).toBe(before + 3);
    // A log line is written once its answer is; the last may still be on its way.
    const served = () => accessLog(g).filter((l) => String(l.path).startsWith('/slow/'));
    for (let i = 0; i < 40 && served().length < 3; i++) await new Promise((r) => setTimeout(r, 50));
    const log = accessLog(g);
    // Each served request is logged as served, not as one the client gave up (499); the malformed one once.
    expect(log.filter((l) => String(l.path).startsWith('/slow/')).map((l) => l.status)).toEqual([200, 200, 200]);
    expect(log.filter((l) => l.status === 400)).toHaveLength(1);
  });
});
