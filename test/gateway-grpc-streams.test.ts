import * as grpc from '@grpc/grpc-js';
import { constants, createServer as createH2Server, type Http2Server, type Http2Session } from 'node:http2';
import { connect, createServer as createNetServer, type AddressInfo, type Server as NetServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accessLog, buildGateway, freePort, startGateway, type GatewayProcess } from './gateway-helpers.js';

/**
 * gRPC streams through the generated gateway on routes that keep a copy of the request body
 * (test/fixtures/gateway/grpc-streams.ttl), with @grpc/grpc-js on both sides: a bidirectional
 * call whose client waits for each answer before it sends the next message must flow on a route
 * with retries or a mirror, a mirror to a service that never answers is held to
 * GW_MIRROR_TIMEOUT_MS, as over HTTP/1.1, and a server-streaming answer the gateway cannot
 * complete ends with the gRPC status of the gateway's 502/504, UNAVAILABLE.
 */
const raw = { serialize: (b: Buffer) => b, deserialize: (b: Buffer) => b };
const method = (path: string, stream: boolean) => ({
  path,
  requestStream: stream,
  responseStream: stream,
  requestSerialize: raw.serialize,
  requestDeserialize: raw.deserialize,
  responseSerialize: raw.serialize,
  responseDeserialize: raw.deserialize,
});
const serviceOf = (pkg: string) => ({
  chat: method(`/${pkg}/Chat`, true),
  hold: method(`/${pkg}/Hold`, false),
  upload: { ...method(`/${pkg}/Upload`, false), requestStream: true },
});
const serverStreaming = (path: string) => ({ ...method(path, false), responseStream: true });
const CUT = {
  upload: { ...method('/test.Cut/Upload', false), requestStream: true },
  reset: serverStreaming('/test.Cut/Reset'),
  drop: serverStreaming('/test.Cut/Drop'),
  hang: serverStreaming('/test.Cut/Hang'),
};

type Callback = (err: grpc.ServiceError | null, res?: Buffer) => void;
interface StreamsClient extends grpc.Client {
  chat(md: grpc.Metadata): grpc.ClientDuplexStream<Buffer, Buffer>;
  hold(req: Buffer, md: grpc.Metadata, cb: Callback): grpc.ClientUnaryCall;
  upload(md: grpc.Metadata, cb: Callback): grpc.ClientWritableStream<Buffer>;
}
type CutClient = grpc.Client &
  Record<'reset' | 'drop' | 'hang', (req: Buffer, md: grpc.Metadata) => grpc.ClientReadableStream<Buffer>> & {
    upload(md: grpc.Metadata, cb: Callback): grpc.ClientWritableStream<Buffer>;
  };

/**
 * A gRPC service on node:http2 that answers each call with its headers and one message, then, by
 * method: resets the stream (INTERNAL_ERROR), drops its whole connection, or sends nothing more.
 */
function cuttingService(): Http2Server {
  const server = createH2Server();
  server.on('stream', (stream, headers) => {
    stream.on('error', () => undefined);
    stream.resume();
    // A client stream that is answered once it ends: a cut short one is never answered.
    if (String(headers[':path']).endsWith('/Upload')) return;
    stream.on('end', () => {
      // Trailers held back: Node would otherwise close the stream with END_STREAM before its reset.
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
      stream.write(Buffer.from([0, 0, 0, 0, 2, 104, 105])); // one message: "hi"
      const path = String(headers[':path']);
      // Once the message is on its way: the gateway has committed to the answer.
      const after = (fn: () => void) => setTimeout(fn, 100);
      if (path.endsWith('/Reset')) after(() => stream.close(constants.NGHTTP2_INTERNAL_ERROR));
      else if (path.endsWith('/Drop')) after(() => (stream.session as Http2Session).destroy());
    });
  });
  return server;
}

/** Waits until `condition` holds, polling, for at most 15 s. */
async function until(what: string, condition: () => boolean | Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** A gRPC server of both packages: Chat answers each message at once; Hold answers, or never (`holds`). */
class ChatServer {
  readonly server = new grpc.Server();
  /** Chat messages in the order they came. */
  readonly messages: string[] = [];
  /** The messages of each client stream (Upload) that ended, in order. */
  readonly uploads: string[][] = [];
  holdCalls = 0;
  holdsCancelled = 0;
  port = 0;

  constructor(
    readonly name: string,
    holds: boolean,
  ) {
    const impl = {
      chat: (call: grpc.ServerDuplexStream<Buffer, Buffer>) => {
        call.on('data', (m: Buffer) => {
          this.messages.push(m.toString());
          call.write(Buffer.from(`${name}:${m.toString()}`));
        });
        call.on('end', () => call.end());
      },
      upload: (call: grpc.ServerReadableStream<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => {
        const parts: string[] = [];
        call.on('data', (m: Buffer) => parts.push(m.toString().replace(/\.+$/, '')));
        call.on('end', () => {
          this.uploads.push(parts);
          cb(null, Buffer.from(String(parts.length)));
        });
      },
      hold: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => {
        this.holdCalls++;
        if (!holds) return cb(null, Buffer.from(`${name}:${call.request.toString()}`));
        call.on('cancelled', () => this.holdsCancelled++);
      },
    };
    for (const pkg of ['test.Retried', 'test.Mirrored', 'test.Replayed']) this.server.addService(serviceOf(pkg), impl);
  }

  async listen(): Promise<this> {
    this.port = await new Promise<number>((resolve, reject) =>
      this.server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
    );
    return this;
  }

  stop(): Promise<void> {
    return new Promise((resolve) => this.server.tryShutdown(() => resolve()));
  }
}

const FRAME_TYPES = ['DATA', 'HEADERS', 'PRIORITY', 'RST_STREAM', 'SETTINGS', 'PUSH_PROMISE', 'PING', 'GOAWAY', 'WINDOW_UPDATE'];

/**
 * A TCP proxy in front of an HTTP/2 server that reads the frames its clients send: those of each
 * stream, by name, with END_STREAM and RST_STREAM's error code (`frames`). With `rstOnly`, an
 * empty DATA frame that only ends a stream is not passed on: Node's client sends one before the
 * RST_STREAM of a cancel, and without it the server sees a cancel as gRPC clients in other
 * languages send it, a reset alone.
 */
class FrameProxy {
  /** By connection and stream id. */
  readonly frames = new Map<string, string[]>();
  private connections = 0;
  private readonly server: NetServer;

  constructor(
    target: () => number,
    rstOnly: boolean,
  ) {
    this.server = createNetServer((client) => {
      const upstream = connect(target(), '127.0.0.1');
      const connection = ++this.connections;
      let buffered = Buffer.alloc(0);
      let preface = false;
      client.on('data', (d: Buffer) => {
        buffered = Buffer.concat([buffered, d]);
        if (!preface) {
          if (buffered.length < 24) return;
          upstream.write(buffered.subarray(0, 24));
          buffered = buffered.subarray(24);
          preface = true;
        }
        while (buffered.length >= 9) {
          const length = buffered.readUIntBE(0, 3);
          if (buffered.length < 9 + length) break;
          const frame = buffered.subarray(0, 9 + length);
          buffered = buffered.subarray(9 + length);
          const [type, flags, id] = [frame[3]!, frame[4]!, frame.readUInt32BE(5) & 0x7fffffff];
          const ends = type <= 1 && (flags & 1) === 1;
          if (id !== 0) {
            const name = `${FRAME_TYPES[type]}${ends ? '+END_STREAM' : ''}${type === 3 ? `(${frame.readUInt32BE(9)})` : ''}`;
            const key = `${connection}:${id}`;
            this.frames.set(key, [...(this.frames.get(key) ?? []), name]);
          }
          if (rstOnly && type === 0 && length === 0 && ends) continue;
          upstream.write(frame);
        }
      });
      upstream.on('data', (d: Buffer) => client.write(d));
      for (const [a, b] of [[client, upstream], [upstream, client]] as const) {
        a.on('error', () => undefined);
        a.on('close', () => b.destroy());
      }
    });
  }

  async listen(): Promise<number> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return (this.server.address() as AddressInfo).port;
  }

  /** The frames of the last stream whose frames include `name`. */
  streamWith(name: string): string[] | undefined {
    return [...this.frames.values()].reverse().find((f) => f.includes(name));
  }

  close(): Promise<unknown> {
    return new Promise((resolve) => this.server.close(resolve));
  }
}

describe('generated gateway: gRPC streams on routes that keep a copy of the body (retries, mirrors)', () => {
  let gw: GatewayProcess;
  const chat = new ChatServer('chat', false);
  const primary = new ChatServer('primary', false);
  const shadow = new ChatServer('shadow', true);
  const clients: grpc.Client[] = [];
  const cutting = cuttingService();
  // Between the gateway and the cutting service, and between an RST-only client and the gateway.
  const toCutting = new FrameProxy(() => (cutting.address() as AddressInfo).port, false);
  const rstOnly = new FrameProxy(() => Number(new URL(gw.url).port), true);

  beforeAll(async () => {
    const { dir } = await buildGateway('test/fixtures/gateway/grpc-streams.ttl');
    for (const s of [chat, primary, shadow]) await s.listen();
    await new Promise<void>((resolve) => cutting.listen(0, '127.0.0.1', resolve));
    const closed = await freePort();
    gw = await startGateway(dir, {
      GW_UPSTREAM_CHAT: `http://127.0.0.1:${closed},http://127.0.0.1:${chat.port}`,
      GW_UPSTREAM_PRIMARY: `http://127.0.0.1:${primary.port}`,
      GW_UPSTREAM_UPLOADS: `http://127.0.0.1:${closed},http://127.0.0.1:${chat.port}`,
      // 20 KB kept for retries and mirrors: two 15 KB messages outgrow it.
      GW_REPLAY_BUFFER_BYTES: '20000',
      GW_UPSTREAM_SHADOW: `http://127.0.0.1:${shadow.port}`,
      GW_UPSTREAM_RAW: `http://127.0.0.1:${await toCutting.listen()}`,
      GW_MIRROR_TIMEOUT_MS: '300',
      GW_MIRROR_MAX_IN_FLIGHT: '2',
      // Passive ejection would take the closed port out, which is not under test.
      GW_EJECT_AFTER_FAILURES: '0',
      GW_ACCESS_LOG: 'stdout',
      // 64 KiB for all of a call's messages: a conversation of 10 KiB messages outgrows it.
      GW_MAX_BODY_BYTES: '65536',
    });
  }, 180_000);

  afterAll(async () => {
    for (const c of clients) c.close();
    await gw?.stop('SIGKILL');
    for (const s of [chat, primary, shadow]) await s.stop();
    await new Promise((resolve) => cutting.close(resolve));
    await toCutting.close();
    await rstOnly.close();
  });

  const clientOf = (pkg: string): StreamsClient => {
    const Client = grpc.makeGenericClientConstructor(serviceOf(pkg), 'Streams') as unknown as new (
      target: string,
      creds: grpc.ChannelCredentials,
    ) => StreamsClient;
    const c = new Client(gw.url.replace('http://', ''), grpc.credentials.createInsecure());
    clients.push(c);
    return c;
  };

  /** A conversation: each message (`size` bytes after the first) is sent once the answer to the one before has come. */
  const converse = (client: StreamsClient, count: number, size = 0) =>
    new Promise<{ answers: string[]; code: grpc.status; details: string }>((resolve) => {
      const answers: string[] = [];
      const call = client.chat(new grpc.Metadata());
      call.on('data', (m: Buffer) => {
        answers.push(m.toString());
        if (answers.length < count) call.write(Buffer.from(`m${answers.length}`.padEnd(size, '.')));
        else call.end();
      });
      call.on('error', () => undefined);
      call.on('status', (s: grpc.StatusObject) => resolve({ answers, code: s.code, details: s.details }));
      call.write(Buffer.from('m0'));
    });

  it('carries a conversation on a route with retries, also when its first instance refuses the connection', async () => {
    const client = clientOf('test.Retried');
    // Round-robin over a closed port and the service: one of the two calls tries the closed port first.
    for (let i = 0; i < 2; i++) {
      const r = await converse(client, 3);
      expect(r, `call ${i}`).toMatchObject({ answers: ['chat:m0', 'chat:m1', 'chat:m2'], code: grpc.status.OK });
    }
    expect(chat.messages).toEqual(['m0', 'm1', 'm2', 'm0', 'm1', 'm2']);
    const metrics = await (await fetch(`${gw.url}/metrics`)).text();
    expect(Number(/^gateway_upstream_retries_total\{route="retried"\} (\d+)$/m.exec(metrics)?.[1])).toBeGreaterThanOrEqual(1);
  });

  it('carries a conversation on a mirrored route, and mirrors the whole of it once its request side ends', async () => {
    const r = await converse(clientOf('test.Mirrored'), 3);
    expect(r).toMatchObject({ answers: ['primary:m0', 'primary:m1', 'primary:m2'], code: grpc.status.OK });
    expect(primary.messages).toEqual(['m0', 'm1', 'm2']);
    await until('the mirrored copy', () => shadow.messages.length === 3);
    expect(shadow.messages).toEqual(['m0', 'm1', 'm2']);
  });

  it('cancels a mirrored call the shadow never answers at GW_MIRROR_TIMEOUT_MS, so later calls are mirrored too', async () => {
    const client = clientOf('test.Mirrored');
    // Twice GW_MIRROR_MAX_IN_FLIGHT: mirrors that were never let go of would use up every slot.
    for (let i = 1; i <= 4; i++) {
      const answer = await new Promise<string>((resolve, reject) =>
        client.hold(Buffer.from(`h${i}`), new grpc.Metadata(), (err, res) => (err ? reject(err) : resolve(String(res)))),
      );
      expect(answer).toBe(`primary:h${i}`);
      await until(`mirror ${i} to reach the shadow`, () => shadow.holdCalls === i);
      await until(`mirror ${i} to be cancelled`, () => shadow.holdsCancelled === i);
    }
    await until('the mirror metrics', async () => {
      const metrics = await (await fetch(`${gw.url}/metrics`)).text();
      return /^gateway_mirror_requests_total\{route="mirrored",outcome="error"\} 4$/m.test(metrics);
    });
    const metrics = await (await fetch(`${gw.url}/metrics`)).text();
    expect(metrics).not.toMatch(/gateway_mirror_requests_total\{route="mirrored",outcome="skipped"\}/);
  });

  it.each([
    ['reset', 'the service resets the stream', 'upstream reset mid-response'],
    ['drop', "the service's connection is lost", 'upstream reset mid-response'],
    ['hang', 'the route timeout strikes', 'upstream timed out'],
  ] as const)('ends a server stream cut short when %s (%s) with UNAVAILABLE in its trailers', async (name, _why, message) => {
    const Client = grpc.makeGenericClientConstructor(CUT, 'Cut') as unknown as new (target: string, creds: grpc.ChannelCredentials) => CutClient;
    const client = new Client(gw.url.replace('http://', ''), grpc.credentials.createInsecure());
    clients.push(client);
    const r = await new Promise<{ messages: string[]; code: grpc.status; details: string }>((resolve) => {
      const messages: string[] = [];
      const call = client[name](Buffer.from('x'), new grpc.Metadata());
      call.on('data', (m: Buffer) => messages.push(m.toString()));
      call.on('error', () => undefined);
      call.on('status', (st: grpc.StatusObject) => resolve({ messages, code: st.code, details: st.details }));
    });
    // A reset without an error code would reach the client as INTERNAL ("call ended without gRPC status").
    expect(r).toEqual({ messages: ['hi'], code: grpc.status.UNAVAILABLE, details: message });
    const path = `/test.Cut/${name[0]!.toUpperCase()}${name.slice(1)}`;
    await until('the log line', () => accessLog(gw).some((l) => l.path === path));
    expect(accessLog(gw).find((l) => l.path === path)).toMatchObject({ status: 200, grpc_status: 14, error: name === 'hang' ? 'route timeout' : message });
  });

  it('ends a conversation whose messages outgrow GW_MAX_BODY_BYTES after the answer began with RESOURCE_EXHAUSTED, as the client\'s doing', async () => {
    const before = primary.messages.length;
    const r = await converse(clientOf('test.Mirrored'), 20, 10_000);
    expect(r.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(r.details).toBe('request body too large');
    // The answers came until the limit: about six 10 KB messages fit in 64 KiB.
    expect(r.answers.length).toBeGreaterThan(3);
    expect(r.answers.length).toBeLessThan(20);
    expect(primary.messages.length - before).toBe(r.answers.length);
    await until('the log line', () => accessLog(gw).some((l) => l.path === '/test.Mirrored/Chat' && l.grpc_status !== 0));
    expect(accessLog(gw).find((l) => l.path === '/test.Mirrored/Chat' && l.grpc_status !== 0)).toMatchObject({ status: 200, grpc_status: 8, error: 'request body too large' });
  });

  it('cancels the service\'s stream of a call it ends early with a reset alone, never an END_STREAM that would make a cut-short upload look whole', async () => {
    const Client = grpc.makeGenericClientConstructor(CUT, 'Cut') as unknown as new (target: string, creds: grpc.ChannelCredentials) => CutClient;
    const client = new Client(gw.url.replace('http://', ''), grpc.credentials.createInsecure());
    clients.push(client);
    // A client stream the service never answers: the route timeout (1 s) ends it while the client still sends.
    const earlier = toCutting.frames.size;
    const streams = () => [...toCutting.frames.values()].slice(earlier);
    const r = await new Promise<grpc.ServiceError | null>((resolve) => {
      const call = client.upload(new grpc.Metadata(), (err) => resolve(err));
      call.write(Buffer.from('part 1'));
    });
    expect(r?.code).toBe(grpc.status.UNAVAILABLE);
    await until('the reset to reach the service', () => streams().some((f) => f.at(-1)!.startsWith('RST_STREAM')));
    // Node's stream.close() would send DATA+END_STREAM before the RST_STREAM: the service's read would end cleanly.
    expect(streams()).toEqual([['HEADERS', 'DATA', 'RST_STREAM(8)']]);
  });

  it('does not mirror a call its client cancelled with a reset alone', async () => {
    const client = grpc.makeGenericClientConstructor(serviceOf('test.Mirrored'), 'Streams') as unknown as new (target: string, creds: grpc.ChannelCredentials) => StreamsClient;
    const viaProxy = new client(`127.0.0.1:${await rstOnly.listen()}`, grpc.credentials.createInsecure());
    clients.push(viaProxy);
    const before = shadow.messages.length;
    const call = viaProxy.chat(new grpc.Metadata());
    call.on('error', () => undefined);
    await new Promise((resolve) => {
      call.once('data', resolve);
      call.write(Buffer.from('cancelled'));
    });
    call.cancel();
    await until('the reset', () => rstOnly.streamWith('RST_STREAM(8)') !== undefined);
    await until('the 499', () => accessLog(gw).some((l) => l.path === '/test.Mirrored/Chat' && l.status === 499));
    // A whole call after it is mirrored; the shadow's session takes its calls in order, so a
    // mirror of the cancelled one would have come first.
    expect((await converse(clientOf('test.Mirrored'), 1)).code).toBe(grpc.status.OK);
    await until('the mirror of the whole call', () => shadow.messages.length > before);
    expect(shadow.messages.slice(before)).toEqual(['m0']);
  });

  it('never replays part of a client stream: one that outgrew its copy while its retry waited fails instead', async () => {
    const client = clientOf('test.Replayed');
    // Round-robin over a closed port and the service: one of the two calls tries the closed port
    // first, and waits 1 to 2 s for its retry, while its second message outgrows the 20 KB copy.
    const outcomes: (grpc.status | undefined)[] = [];
    const before = chat.uploads.length;
    for (let i = 0; i < 2; i++) {
      const err = await new Promise<grpc.ServiceError | null>((resolve) => {
        const call = client.upload(new grpc.Metadata(), (e) => resolve(e));
        call.write(Buffer.from(`part1-${i}`.padEnd(15_000, '.')));
        setTimeout(() => {
          call.write(Buffer.from(`part2-${i}`.padEnd(15_000, '.')));
          call.end();
        }, 100);
      });
      outcomes.push(err?.code);
    }
    const metrics = await (await fetch(`${gw.url}/metrics`)).text();
    expect(Number(/^gateway_upstream_retries_total\{route="replayed"\} (\d+)$/m.exec(metrics)?.[1])).toBeGreaterThanOrEqual(1);
    // Every upload the service got is whole, and each call that succeeded is one of them: the
    // retried call fails as its first try did (or, on a machine slow enough that its retry began
    // before the second message came, goes through whole), never replayed from its second message.
    const uploads = chat.uploads.slice(before);
    for (const u of uploads) expect(u).toEqual([u[0], u[0]!.replace('part1', 'part2')]);
    expect(uploads.map((u) => u[0]).sort()).toEqual(
      outcomes.flatMap((c, i) => (c === undefined ? [`part1-${i}`] : [])),
    );
    for (const c of outcomes) if (c !== undefined) expect(c).toBe(grpc.status.UNAVAILABLE);
  });
});
