import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Backend, buildGateway, freePort, runGeneratedTests, startGateway, type GatewayProcess } from './gateway-helpers.js';

/**
 * gRPC through the generated gateway, with @grpc/grpc-js on both sides: the client speaks HTTP/2
 * without TLS (h2c) to the gateway's one port, the gateway HTTP/2 to the service. Messages are
 * raw bytes (no protobuf needed to prove the transport): unary and server-streaming calls,
 * metadata and trailers both ways, the service's own error codes, and the gateway's answers
 * (API key, timeout) as the gRPC codes a client sees.
 */
const raw = { serialize: (b: Buffer) => b, deserialize: (b: Buffer) => b };
const method = (path: string, responseStream = false) => ({
  path,
  requestStream: false,
  responseStream,
  requestSerialize: raw.serialize,
  requestDeserialize: raw.deserialize,
  responseSerialize: raw.serialize,
  responseDeserialize: raw.deserialize,
});
const SERVICE = {
  say: method('/test.Echo/Say'),
  fail: method('/test.Echo/Fail'),
  hang: method('/test.Echo/Hang'),
  count: method('/test.Echo/Count', true),
  guarded: method('/test.Guarded/Say'),
  down: method('/test.Down/Say'),
  retried: method('/test.Retried/Say'),
};

type Callback = (err: grpc.ServiceError | null, res?: Buffer) => void;
type Unary = {
  (req: Buffer, md: grpc.Metadata, cb: Callback): grpc.ClientUnaryCall;
  (req: Buffer, md: grpc.Metadata, options: grpc.CallOptions, cb: Callback): grpc.ClientUnaryCall;
};
interface EchoClient extends grpc.Client {
  say: Unary;
  fail: Unary;
  hang: Unary;
  guarded: Unary;
  down: Unary;
  retried: Unary;
  count(req: Buffer, md: grpc.Metadata): grpc.ClientReadableStream<Buffer>;
}

describe('generated gateway: gRPC over HTTP/2, through the whole chain', () => {
  let gw: GatewayProcess;
  let dir = '';
  let server: grpc.Server;
  let client: EchoClient;
  const web = new Backend('web');
  const seen: grpc.Metadata[] = [];
  /** Hanging calls the service saw cancelled (the client gave up, or the gateway did). */
  let cancelled = 0;

  beforeAll(async () => {
    ({ dir } = await buildGateway('test/fixtures/gateway/grpc.ttl'));
    server = new grpc.Server();
    const say = (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => {
      seen.push(call.metadata);
      const header = new grpc.Metadata();
      header.set('x-served-by', 'echo');
      call.sendMetadata(header);
      const trailer = new grpc.Metadata();
      trailer.set('x-checksum', String(call.request.length));
      cb(null, Buffer.concat([Buffer.from('echo:'), call.request]), trailer);
    };
    server.addService(SERVICE, {
      say,
      guarded: say,
      down: say,
      retried: say,
      fail: (_call: unknown, cb: grpc.sendUnaryData<Buffer>) => cb({ code: grpc.status.NOT_FOUND, details: 'no such thing' }),
      hang: (call: grpc.ServerUnaryCall<Buffer, Buffer>) => call.on('cancelled', () => cancelled++),
      count: (call: grpc.ServerWritableStream<Buffer, Buffer>) => {
        for (let i = 1; i <= 3; i++) call.write(Buffer.from(`n${i}`));
        call.end();
      },
    });
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
    );
    await web.listen();
    const deadPort = await freePort();
    gw = await startGateway(dir, { GW_UPSTREAM_ECHO: `http://127.0.0.1:${port}`, GW_UPSTREAM_RETRIED: `http://127.0.0.1:${deadPort},http://127.0.0.1:${port}`, GW_UPSTREAM_WEB: web.url, ALICE_KEY: 'alice-key', GW_EJECT_AFTER_FAILURES: '0', GW_ACCESS_LOG: 'stdout' });
    const Client = grpc.makeGenericClientConstructor(SERVICE, 'Echo') as unknown as new (target: string, creds: grpc.ChannelCredentials) => EchoClient;
    client = new Client(gw.url.replace('http://', ''), grpc.credentials.createInsecure());
  }, 180_000);

  afterAll(async () => {
    client?.close();
    await gw?.stop('SIGKILL');
    await new Promise<void>((resolve) => (server ? server.tryShutdown(() => resolve()) : resolve()));
    await web.stop();
  });

  const unary = (call: 'say' | 'fail' | 'hang' | 'guarded' | 'down' | 'retried', body: string, md = new grpc.Metadata()) =>
    new Promise<{ err: grpc.ServiceError | null; res?: Buffer; header?: grpc.Metadata; trailer?: grpc.Metadata }>((resolve) => {
      let header: grpc.Metadata | undefined;
      let trailer: grpc.Metadata | undefined;
      let outcome: { err: grpc.ServiceError | null; res?: Buffer } | undefined;
      const done = () => outcome && trailer && resolve({ ...outcome, header, trailer });
      const c = client[call](Buffer.from(body), md, (err, res) => {
        outcome = { err, res };
        done();
      });
      c.on('metadata', (m) => (header = m));
      c.on('status', (s) => {
        trailer = s.metadata;
        done();
      });
    });

  it('carries a unary call, its metadata both ways and the trailers', async () => {
    const md = new grpc.Metadata();
    md.set('x-request-tag', 'abc');
    const r = await unary('say', 'hello', md);
    expect(r.err).toBeNull();
    expect(r.res?.toString()).toBe('echo:hello');
    expect(r.header?.get('x-served-by')).toEqual(['echo']);
    expect(r.trailer?.get('x-checksum')).toEqual(['5']);
    const got = seen.at(-1)!;
    expect(got.get('x-request-tag')).toEqual(['abc']);
    // The gateway's own request headers reach the service as metadata.
    expect(String(got.get('traceparent')[0])).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$/);
    expect(got.get('x-forwarded-for')).toEqual(['127.0.0.1']);
  });

  it("passes the service's error code and message on, and logs each call's gRPC status", async () => {
    const r = await unary('fail', 'x');
    expect(r.err?.code).toBe(grpc.status.NOT_FOUND);
    expect(r.err?.details).toBe('no such thing');
    await new Promise((resolve) => setTimeout(resolve, 100)); // the access log is written every 20 ms
    const lines = gw
      .stdout()
      .split('\n')
      .filter((l) => l.includes('"route":"echo"'))
      .map((l) => JSON.parse(l) as { path: string; status: number; grpc_status?: number });
    expect(lines.find((l) => l.path === '/test.Echo/Fail')).toMatchObject({ status: 200, grpc_status: 5 });
    expect(lines.find((l) => l.path === '/test.Echo/Say')).toMatchObject({ status: 200, grpc_status: 0 });
  });

  it('streams a server-streaming call message by message', async () => {
    const messages: string[] = [];
    await new Promise<void>((resolve, reject) => {
      const stream = client.count(Buffer.from('go'), new grpc.Metadata());
      stream.on('data', (m: Buffer) => messages.push(m.toString()));
      stream.on('error', reject);
      stream.on('end', () => resolve());
    });
    expect(messages).toEqual(['n1', 'n2', 'n3']);
  });

  it('refuses a call without a valid API key as UNAUTHENTICATED, and carries one with it', async () => {
    expect((await unary('guarded', 'x')).err?.code).toBe(grpc.status.UNAUTHENTICATED);
    const md = new grpc.Metadata();
    md.set('x-api-key', 'alice-key');
    const ok = await unary('guarded', 'y', md);
    expect(ok.err).toBeNull();
    expect(ok.res?.toString()).toBe('echo:y');
    // The key stays at the gateway.
    expect(seen.at(-1)!.get('x-api-key')).toEqual([]);
  });

  it('ends a call the service never answers at the route timeout, as UNAVAILABLE', async () => {
    const started = Date.now();
    const r = await unary('hang', 'x');
    expect(r.err?.code).toBe(grpc.status.UNAVAILABLE);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1900);
    expect(Date.now() - started).toBeLessThan(4000);
  });

  it("passes a client's cancel on: the service sees its call cancelled", async () => {
    const before = cancelled;
    const r = await new Promise<grpc.ServiceError | null>((resolve) =>
      client.hang(Buffer.from('x'), new grpc.Metadata(), { deadline: Date.now() + 200 }, (err) => resolve(err)),
    );
    expect(r?.code).toBe(grpc.status.DEADLINE_EXCEEDED);
    // The gateway's route timeout is 2 s: well before it, the service hears of the cancel.
    for (let i = 0; i < 50 && cancelled === before; i++) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(cancelled).toBe(before + 1);
  });

  it('answers a call to a service that refuses connections as UNAVAILABLE, and goes on serving', async () => {
    const r = await unary('down', 'x');
    expect(r.err?.code).toBe(grpc.status.UNAVAILABLE);
    expect(r.err?.details).toMatch(/502/);
    expect((await unary('say', 'still')).res?.toString()).toBe('echo:still');
  });

  it('retries a call whose instance refuses the connection on the other instance (retryOn connect-failure)', async () => {
    // Round-robin puts every other call on the closed port first: each must still be answered.
    for (let i = 0; i < 4; i++) expect((await unary('retried', `r${i}`)).res?.toString(), `call ${i}`).toBe(`echo:r${i}`);
    const metrics = await (await fetch(`${gw.url}/metrics`)).text();
    expect(Number(/gateway_upstream_retries_total\{route="retried"\} (\d+)/.exec(metrics)?.[1])).toBeGreaterThanOrEqual(2);
  });

  it('multiplexes calls: hanging ones neither hold the others back nor use the connection up', async () => {
    // 120 calls hang until the route timeout cancels them, while 100 others go through at once;
    // afterwards the connection to the service still takes calls (cancelled streams are gone;
    // passive ejection, which would take the instance out after so many timeouts, is off here).
    const started = Date.now();
    const hanging = Array.from({ length: 120 }, () => unary('hang', 'x'));
    const quick = await Promise.all(Array.from({ length: 100 }, (_, i) => unary('say', `m${i}`)));
    // Held back behind the hanging calls, they would wait for the 2 s route timeout.
    expect(Date.now() - started).toBeLessThan(1900);
    quick.forEach((r, i) => expect(r.res?.toString()).toBe(`echo:m${i}`));
    for (const r of await Promise.all(hanging)) expect(r.err?.code).toBe(grpc.status.UNAVAILABLE);
    const after = await Promise.all(Array.from({ length: 10 }, (_, i) => unary('say', `a${i}`)));
    after.forEach((r, i) => expect(r.res?.toString(), String(r.err)).toBe(`echo:a${i}`));
  });

  it('serves HTTP/1.1 on the same port, and counts the gRPC calls in /metrics', async () => {
    const res = await fetch(`${gw.url}/web/hello`);
    expect(res.status).toBe(200);
    expect(JSON.parse(await res.text()).url).toBe('/hello');
    const metrics = await (await fetch(`${gw.url}/metrics`)).text();
    expect(metrics).toMatch(/^gateway_requests_total\{route="echo",method="POST",status="200"\} [1-9]\d*$/m);
    expect(metrics).toMatch(/^gateway_requests_total\{route="echo",method="POST",status="504"\} 121$/m);
  });

  it("passes its own generated tests, whose mock gRPC backends speak HTTP/2", () => {
    const out = runGeneratedTests(dir);
    expect(out).toMatch(/# fail 0/);
    expect(Number(/# pass (\d+)/.exec(out)?.[1])).toBeGreaterThan(10);
  });
});
