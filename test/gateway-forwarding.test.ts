import { createServer as createHttpServer, request, type IncomingMessage, type Server } from 'node:http';
import { connect, createServer as createNetServer, type AddressInfo, type Server as NetServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildGateway, parseAnswer, rawExchange, startGateway, TestServer, type GatewayProcess } from './gateway-helpers.js';

/**
 * What the generated gateway passes on and what it keeps back, as a backend and a client see it
 * over real sockets: W3C trace context on the way in, and the hop-by-hop headers a backend names
 * in its Connection header lines on the way out.
 */

/**
 * A backend that answers in JSON the request headers it got (and 403 at once to /orders/early…),
 * and notes the request bodies cut off before their end.
 */
class HeaderEcho extends TestServer {
  readonly seen: IncomingMessage['headers'][] = [];
  /** The targets of the requests it began to get, and of those whose body was cut off. */
  readonly started: string[] = [];
  readonly cut: string[] = [];
  protected createServer(): Server {
    return createHttpServer((req, res) => {
      this.started.push(req.url ?? '');
      // Refused at once, before the body (which Node's server then reads and drops).
      if (req.url?.startsWith('/orders/early') === true) return void res.writeHead(403, { 'content-length': 4 }).end('nope');
      req.resume();
      req.on('close', () => {
        if (!req.complete) this.cut.push(req.url ?? '');
      });
      req.on('end', () => {
        this.seen.push(req.headers);
        const body = JSON.stringify(req.headers);
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
        res.end(body);
      });
    });
  }
}

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const PARENT_ID = '00f067aa0ba902b7';

describe('generated gateway: headers passed on and kept back (forwarding model)', () => {
  let dir = '';
  const app = new HeaderEcho();
  let gw: GatewayProcess;

  beforeAll(async () => {
    ({ dir } = await buildGateway('test/fixtures/gateway/forwarding.ttl'));
    await app.listen();
    gw = await startGateway(dir, { GW_UPSTREAM_APP: app.url, GW_ACCESS_LOG: 'stdout' });
  });
  afterAll(async () => {
    await gw?.stop('SIGKILL');
    await app.stop();
  });

  /** The request headers the backend got for one request with `headers`. */
  const upstreamHeaders = async (headers: string): Promise<IncomingMessage['headers']> => {
    const answer = await rawExchange(gw.url, `GET /orders HTTP/1.1\r\nHost: shop.example\r\n${headers}Connection: close\r\n\r\n`, 10_000);
    expect(answer.status).toBe(200);
    return JSON.parse(answer.body) as IncomingMessage['headers'];
  };
  const traceparentOf = (h: IncomingMessage['headers']) => /^00-([0-9a-f]{32})-([0-9a-f]{16})-(0[01])$/.exec(String(h.traceparent));

  it('continues a valid traceparent with its tracestate, and a later version\'s with fields after its first 55 characters (W3C Trace Context §4.3)', async () => {
    for (const value of [
      `00-${TRACE_ID}-${PARENT_ID}-01`,
      // A newer version may add fields: its first 55 characters read as version 00.
      `01-${TRACE_ID}-${PARENT_ID}-01-0123456789abcdef`,
      `cc-${TRACE_ID}-${PARENT_ID}-03-future`,
    ]) {
      const h = await upstreamHeaders(`traceparent: ${value}\r\ntracestate: vendor=abc,other=1\r\n`);
      const m = traceparentOf(h);
      expect(m, value).not.toBeNull();
      expect(m![1], value).toBe(TRACE_ID);
      expect(m![2], value).not.toBe(PARENT_ID);
      // Only the sampled flag is read from a version the gateway does not know.
      expect(m![3], value).toBe('01');
      expect(h.tracestate, value).toBe('vendor=abc,other=1');
    }
  });

  it('restarts the trace on an invalid traceparent and drops the tracestate, also one that came without a traceparent (W3C Trace Context §4.2, §4.3)', async () => {
    for (const sent of [
      '',
      `traceparent: 00-${TRACE_ID}-${PARENT_ID}-01-extra\r\n`,
      `traceparent: ff-${TRACE_ID}-${PARENT_ID}-01\r\n`,
      `traceparent: 01-${TRACE_ID}-${PARENT_ID}-01extra\r\n`,
      `traceparent: 00-${TRACE_ID.toUpperCase()}-${PARENT_ID}-01\r\n`,
      `traceparent: 00-00000000000000000000000000000000-${PARENT_ID}-01\r\n`,
    ]) {
      const h = await upstreamHeaders(`${sent}tracestate: vendor=abc\r\n`);
      const m = traceparentOf(h);
      expect(m, sent).not.toBeNull();
      expect(m![1], sent).not.toBe(TRACE_ID);
      expect(m![1], sent).not.toBe(TRACE_ID.toLowerCase());
      expect(h.tracestate, sent).toBeUndefined();
    }
  });

  /** Waits, with a generous deadline, for what `ready` looks for. */
  const until = async (ready: () => boolean, what: string) => {
    for (const stop = Date.now() + 15_000; !ready(); await new Promise((r) => setTimeout(r, 50)))
      if (Date.now() > stop) throw new Error(`still waiting for ${what}`);
  };
  const logLines = () =>
    gw
      .stdout()
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as { path: string; status: number; error?: string });

  it('ends at once a request whose client ends the connection mid-body (streamed, buffered, or held back after a 100 Continue): 499 in the log, the backend\'s upload cut, nothing held until a timeout', async () => {
    const cases = [
      // Streamed through: the backend has begun to get the upload when the client leaves.
      { path: '/orders', rest: 'Content-Length: 10\r\n\r\nhalf', streamed: true },
      { path: '/orders', rest: 'Transfer-Encoding: chunked\r\n\r\n4\r\nhalf\r\n', streamed: true },
      // Buffered for a retry, and a body held back until the 100 Continue: the backend has nothing yet.
      { path: '/retried', rest: 'Content-Length: 10\r\n\r\nhalf', streamed: false },
      { path: '/orders', rest: 'Content-Length: 10\r\nExpect: 100-continue\r\n\r\n', streamed: false },
    ];
    for (const { path, rest, streamed } of cases) {
      const target = `${path}/gone-${Math.random().toString(36).slice(2)}`;
      const socket = connect(Number(new URL(gw.url).port), '127.0.0.1');
      let got = '';
      socket.setEncoding('latin1').on('data', (d: string) => (got += d));
      const closed = new Promise((resolve) => socket.on('close', resolve));
      socket.on('error', () => undefined);
      socket.write(`POST ${target} HTTP/1.1\r\nHost: shop.example\r\n${rest}`, 'latin1');
      if (streamed) await until(() => app.started.includes(target), `the backend to get the head of ${target}`);
      socket.end();
      await until(() => logLines().some((l) => l.path === target), `the log line of ${target}`);
      expect(logLines().find((l) => l.path === target)!.status, rest).toBe(499);
      if (streamed) await until(() => app.cut.includes(target), `the backend to see the upload of ${target} cut`);
      await closed;
      // Nothing to answer: the client is gone (a 100 Continue may have come first).
      expect(got.replace('HTTP/1.1 100 Continue\r\n\r\n', ''), rest).toBe('');
    }
  });

  it('answers 400 at once to a malformed chunk in a request body (as nginx), and cuts the upload the backend had begun to get', async () => {
    for (const path of ['/orders/bad-chunk', '/retried/bad-chunk']) {
      const answer = await rawExchange(gw.url, `POST ${path} HTTP/1.1\r\nHost: shop.example\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nhalf\r\nZZ\r\nmore\r\n0\r\n\r\n`, 10_000);
      expect(answer.status, path).toBe(400);
      expect(answer.headers.connection, path).toBe('close');
      expect(JSON.parse(answer.body), path).toEqual({ error: 'malformed request body', status: 400 });
      await until(() => logLines().some((l) => l.path === path), `the log line of ${path}`);
      expect(logLines().find((l) => l.path === path)!.error).toBe('malformed request body (HPE_INVALID_CHUNK_SIZE)');
      // A backend that had begun to get it sees it cut off, never a whole request.
      if (app.started.includes(path)) await until(() => app.cut.includes(path), `the backend to see the upload of ${path} cut`);
    }
    expect(app.seen.length).toBe(app.started.length - app.cut.length);
  });

  it('does not leave a connection hanging when the backend answers before the client has sent the whole body: the answer comes, then the connection closes', async () => {
    for (const framing of ['content-length', 'chunked'] as const) {
      const piece = Buffer.alloc(64 * 1024, 97);
      const frame = (b: Buffer) => (framing === 'chunked' ? Buffer.concat([Buffer.from(`${b.length.toString(16)}\r\n`), b, Buffer.from('\r\n')]) : b);
      const socket = connect(Number(new URL(gw.url).port), '127.0.0.1');
      let got = '';
      let closed = false;
      socket.setEncoding('latin1').on('data', (d: string) => (got += d));
      socket.on('close', () => (closed = true));
      socket.on('error', () => undefined);
      const length = framing === 'chunked' ? 'Transfer-Encoding: chunked' : `Content-Length: ${32 * piece.length}`;
      socket.write(`POST /orders/early-${framing} HTTP/1.1\r\nHost: shop.example\r\n${length}\r\n\r\n`);
      socket.write(frame(piece));
      await until(() => got.includes('nope'), `the early answer (${framing})`);
      expect(parseAnswer(got).status).toBe(403);
      // The client goes on with its body, then asks again on the same connection.
      for (let i = 1; i < 32 && !closed; i++) socket.write(frame(piece));
      if (!closed) socket.write(`${framing === 'chunked' ? '0\r\n\r\n' : ''}GET /orders/next HTTP/1.1\r\nHost: shop.example\r\n\r\n`);
      // Answered, or closed (as the first answer said): never a connection left open and silent.
      await until(() => closed || got.split('HTTP/1.1 ').length > 2, `the connection to go on or close (${framing})`);
      if (got.split('HTTP/1.1 ').length <= 2) expect(parseAnswer(got).headers.connection).toBe('close');
      socket.destroy();
    }
  });

  it('gives a client still sending its body the answer that refuses it (413, an early 403), not a reset: the gateway reads and drops the rest before it closes (lingering close, as nginx)', async () => {
    const small = await startGateway(dir, { GW_UPSTREAM_APP: app.url, GW_MAX_BODY_BYTES: String(1024 * 1024) });
    try {
      const big = Buffer.alloc(16 * 1024 * 1024, 97);
      // Within the default limit (10 MiB), for the backend's early answer.
      const below = big.subarray(0, 8 * 1024 * 1024);
      /** A chunked upload of `big` with node:http, which stops writing once the answer is in. */
      const chunked = (path: string) =>
        new Promise<string>((resolve) => {
          const u = new URL(small.url);
          const req = request({ host: u.hostname, port: u.port, path, method: 'POST', headers: { 'transfer-encoding': 'chunked' } }, (res) => {
            res.resume();
            res.on('end', () => resolve(String(res.statusCode)));
          });
          req.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
          let sent = 0;
          const pump = () => {
            while (sent < big.length) {
              const piece = big.subarray(sent, sent + 64 * 1024);
              sent += piece.length;
              if (!req.write(piece)) return void req.once('drain', pump);
            }
            req.end();
          };
          pump();
        });
      /** The same body with a Content-Length, sent by fetch (undici), as most clients send one. */
      const sized = (path: string, base = small.url, body = big) =>
        fetch(base + path, { method: 'POST', body }).then(
          async (r) => (await r.arrayBuffer(), String(r.status)),
          (err: Error & { cause?: { code?: string } }) => err.cause?.code ?? err.message,
        );
      const outcomes: string[] = [];
      // Without the lingering close most of these ended in EPIPE or ECONNRESET on this machine.
      for (let i = 0; i < 6; i++) outcomes.push(`sized ${await sized('/orders')}`, `chunked ${await chunked('/orders')}`, `early ${await sized('/orders/early-big', gw.url, below)}`);
      expect(outcomes).toEqual(Array.from({ length: 6 }, () => ['sized 413', 'chunked 413', 'early 403']).flat());
    } finally {
      await small.stop('SIGKILL');
    }
  });

  /** What the hand-written backend answers to an upgrade of each path (else a 200 with hop-by-hop headers). */
  const UPGRADE_ANSWERS: Record<string, string> = {
    // Hop-by-hop headers of the backend's own connection, and headers the gateway sets itself on this route.
    '/live/hop':
      'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade, X-Private\r\nX-Private: secret\r\n' +
      'Keep-Alive: timeout=5\r\nProxy-Connection: keep-alive\r\nTE: trailers\r\nTrailer: x\r\nContent-Length: 0\r\n' +
      'Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\n' +
      'Access-Control-Allow-Origin: *\r\nX-RateLimit-Limit: 5\r\n\r\n',
    '/live/refuse':
      'HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nConnection: X-Private\r\nX-Private: secret\r\nKeep-Alive: timeout=5\r\n' +
      'Access-Control-Allow-Origin: *\r\nContent-Length: 4\r\n\r\nnope',
    // A 101 without Upgrade, which undici refuses (an assertion of its own).
    '/live/bare': 'HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n\r\n',
    '/live/cut': 'cut',
  };

  describe('a backend naming hop-by-hop headers in several Connection lines', () => {
    let raw: NetServer;
    let rawGw: GatewayProcess;
    beforeAll(async () => {
      // Node's HTTP server would not send two Connection lines, nor these answers to an upgrade: written by hand.
      raw = createNetServer((s) => {
        s.on('error', () => undefined);
        let head = '';
        const onData = (d: Buffer) => {
          head += d.toString('latin1');
          const end = head.indexOf('\r\n\r\n');
          if (end === -1) return;
          s.off('data', onData);
          const answer = UPGRADE_ANSWERS[head.split(' ')[1]!];
          if (answer === undefined)
            return void s.end(
              'HTTP/1.1 200 OK\r\nX-Session-Hop: a\r\nConnection: X-Session-Hop\r\nConnection: X-Other-Hop\r\nX-Other-Hop: b\r\nX-Kept: c\r\nContent-Length: 2\r\n\r\nok',
            );
          if (answer === 'cut') return void s.destroy();
          if (!answer.startsWith('HTTP/1.1 101')) return void s.end(answer);
          // Switched: the tunnel echoes what comes, the bytes sent with the handshake first.
          s.write(answer + head.slice(end + 4));
          s.on('data', (more: Buffer) => s.write(more));
        };
        s.on('data', onData);
      });
      await new Promise<void>((resolve) => raw.listen(0, '127.0.0.1', resolve));
      rawGw = await startGateway(dir, { GW_UPSTREAM_APP: `http://127.0.0.1:${(raw.address() as AddressInfo).port}` });
    });
    afterAll(async () => {
      await rawGw?.stop('SIGKILL');
      await new Promise((resolve) => raw.close(resolve));
    });

    it('drops the headers named in each of its Connection lines, not in the last alone (RFC 9110 §7.6.1)', async () => {
      const answer = await rawExchange(rawGw.url, 'GET /orders HTTP/1.1\r\nHost: shop.example\r\nConnection: close\r\n\r\n', 10_000);
      expect(answer.status).toBe(200);
      expect(answer.body).toBe('ok');
      expect(answer.headers['x-kept']).toBe('c');
      expect(answer.headers['x-session-hop']).toBeUndefined();
      expect(answer.headers['x-other-hop']).toBeUndefined();
    });

    const HANDSHAKE = 'Host: shop.example\r\nOrigin: https://app.example\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n';
    /** The header lines of an answer's head, lower-cased names, in order. */
    const lines = (head: string) => head.split('\r\n').slice(1).map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()] as const);

    it("passes on a backend's 101 without its connection's hop-by-hop headers or a Content-Length, with one Upgrade and one Connection, and the route's own CORS and rate-limit headers in place of the backend's", async () => {
      const socket = connect(Number(new URL(rawGw.url).port), '127.0.0.1');
      let got = '';
      socket.setEncoding('latin1').on('data', (d: string) => (got += d));
      socket.on('error', () => undefined);
      socket.write(`GET /live/hop HTTP/1.1\r\n${HANDSHAKE}ping`);
      // The bytes sent with the handshake come back through the tunnel.
      await until(() => got.includes('\r\n\r\nping'), 'the 101 and the echo through the tunnel');
      socket.destroy();
      const head = got.slice(0, got.indexOf('\r\n\r\n'));
      expect(head.split('\r\n')[0]).toBe('HTTP/1.1 101 Switching Protocols');
      const h = lines(head);
      const named = (n: string) => h.filter(([k]) => k === n).map(([, v]) => v);
      expect(named('upgrade')).toEqual(['websocket']);
      expect(named('connection')).toEqual(['Upgrade']);
      for (const hop of ['x-private', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'content-length', 'transfer-encoding']) expect(named(hop), hop).toEqual([]);
      expect(named('sec-websocket-accept')).toEqual(['s3pPLMBiTxaQ9kYGzzhZRbK+xOo=']);
      expect(named('set-cookie')).toEqual(['a=1', 'b=2']);
      // The route's CORS policy says who may read, not the backend's "*"; the limit is the gateway's.
      expect(named('access-control-allow-origin')).toEqual(['https://app.example']);
      expect(named('x-ratelimit-limit')).toEqual(['1000']);
    });

    it("passes on a backend's refusal of an upgrade without its hop-by-hop headers, and answers 502 to a 101 that names no protocol or a backend that hangs up mid-handshake, without undici's words", async () => {
      const refused = await rawExchange(rawGw.url, `GET /live/refuse HTTP/1.1\r\n${HANDSHAKE}`, 10_000);
      expect(refused.status).toBe(403);
      expect(refused.body).toBe('nope');
      const h = lines(refused.head);
      const named = (n: string) => h.filter(([k]) => k === n).map(([, v]) => v);
      expect(named('x-private')).toEqual([]);
      expect(named('keep-alive')).toEqual([]);
      expect(named('connection')).toEqual(['close']);
      expect(named('content-length')).toEqual(['4']);
      expect(named('access-control-allow-origin')).toEqual(['https://app.example']);
      const bare = await rawExchange(rawGw.url, `GET /live/bare HTTP/1.1\r\n${HANDSHAKE}`, 10_000);
      expect(bare.status).toBe(502);
      expect(JSON.parse(bare.body)).toEqual({ error: 'upstream sent an invalid response', status: 502 });
      const cut = await rawExchange(rawGw.url, `GET /live/cut HTTP/1.1\r\n${HANDSHAKE}`, 10_000);
      expect(cut.status).toBe(502);
      expect(JSON.parse(cut.body)).toEqual({ error: 'upstream unreachable', status: 502 });
      // And the gateway goes on.
      expect((await rawExchange(rawGw.url, 'GET /orders HTTP/1.1\r\nHost: shop.example\r\nConnection: close\r\n\r\n', 10_000)).status).toBe(200);
    });
  });
});
