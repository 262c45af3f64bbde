import { lstat, readlink, rename, rm, stat, writeFile } from 'node:fs/promises';
import { makeDirs } from './mkdirs.js';
import { dirname, join } from 'node:path';
import { CONFIG_FILE, type GwgenConfig } from './config.js';
import { problem, type Problem } from './errors.js';

/** A small model that validates and generates out of the box, meant to be edited. */
export const STARTER_MODEL = `# A starter gwgen model. Edit it, then run: gwgen generate (gwgen.json names this model and the
# output folder), or gwgen watch to regenerate on every save.
# The vocabulary: https://ggen.ai/ontology/api-gateway (every term has a label and a comment in
# gwgen's ontology/api-gateway.ttl). Secrets never go here: name the environment variable instead.
@prefix agw: <https://ggen.ai/ontology/api-gateway#> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
@prefix : <https://example.org/my-gateway#> .

:gateway a agw:ApiGateway ;
  agw:gatewayName "my-gateway" ;
  agw:listenPort 8080 ;
  agw:hasRoute :ordersRead, :ordersWrite .

# --- routes ---------------------------------------------------------------------------------
:ordersRead a agw:Route ;
  agw:routeName "orders-read" ;
  agw:routePath "/api/orders" ;
  agw:httpMethod "GET" ;
  agw:hasBackendService :orders ;
  agw:timeoutSeconds 5 ;
  agw:hasRateLimiter :perClient ;
  agw:hasRetryPolicy :retryTwice .

:ordersWrite a agw:Route ;
  agw:routeName "orders-write" ;
  agw:routePath "/api/orders" ;
  agw:httpMethod "POST", "PUT" ;
  agw:hasBackendService :orders ;
  agw:timeoutSeconds 10 ;
  agw:hasRateLimiter :perClient ;
  agw:hasCircuitBreaker :breaker ;
  agw:hasAuthentication :jwt .

# --- backend --------------------------------------------------------------------------------
:orders a agw:BackendService ;
  agw:serviceName "orders" ;
  agw:port 8080 ;
  agw:hasHealthCheck :ordersHealth .

:ordersHealth a agw:HealthCheck ;
  agw:healthCheckPath "/healthz" ;
  agw:healthCheckInterval "PT10S"^^xsd:duration ;
  agw:successThreshold 1 ;
  agw:failureThresholdHealth 3 .

# --- policies -------------------------------------------------------------------------------
:perClient a agw:RateLimiter ; agw:requestsPerSecond 20 ; agw:burstSize 40 ; agw:limitBy "ip" .
:breaker a agw:CircuitBreaker ; agw:failureThreshold 5 ; agw:timeoutSeconds 30 .
:retryTwice a agw:RetryPolicy ; agw:retryAttempts 2 ; agw:retryOn "5xx", "connect-failure" .

:jwt a agw:JWTAuthentication ;
  agw:issuer "https://auth.example.org" ;
  agw:audience "orders-api" ;
  agw:algorithm "HS256" ;
  agw:secretEnv "ORDERS_JWT_SECRET" .
`;

const STARTER_CONFIG: GwgenConfig = { models: ['model.ttl'], out: 'generated' };

/** Writes model.ttl and gwgen.json into dir; refuses to overwrite either unless forced. */
export async function init(dir: string, force = false): Promise<{ written: string[]; problems: Problem[] }> {
  const files: Array<[string, string]> = [
    ['model.ttl', STARTER_MODEL],
    [CONFIG_FILE, `${JSON.stringify(STARTER_CONFIG, null, 2)}\n`],
  ];
  if (dir === '') {
    return { written: [], problems: [problem('usage', 'the directory name is empty', { hint: 'give gwgen init a directory, or none for the current one' })] };
  }
  // lstat, not access: a symbolic link to nowhere is there too, and writing through it would leave dir.
  const there = await Promise.all(files.map(async ([name]) => ({ path: join(dir, name), st: await lstat(join(dir, name)).catch(() => undefined) })));
  const existing = there.filter((f) => f.st !== undefined).map((f) => f.path);
  if (existing.length > 0 && !force) {
    return { written: [], problems: existing.map((f) => problem('usage', `${f} already exists`, { location: { file: f }, hint: 'choose another directory, or pass --force to overwrite it' })) };
  }
  // The directory, or the nearest of its parents that exists, must be a directory (afile/sub cannot be made).
  for (let path = dir; ; ) {
    const st = await stat(path).catch(() => undefined);
    if (!st && (await lstat(path).then((l) => l.isSymbolicLink(), () => false))) {
      const to = await readlink(path).catch(() => '?');
      return { written: [], problems: [problem('usage', `${path} is a symbolic link to ${to}, which does not exist`, { location: { file: path }, hint: 'create the folder it points to, or remove the link' })] };
    }
    if (st && !st.isDirectory()) {
      const message = path === dir ? `${dir} is a file, not a directory` : `${dir} cannot be created: ${path} is a file, not a directory`;
      return { written: [], problems: [problem('usage', message, { location: { file: path }, hint: 'give gwgen init a new or existing directory' })] };
    }
    const parent = dirname(path);
    if (st || parent === path) break;
    path = parent;
  }
  const folder = there.find((f) => f.st?.isDirectory());
  if (folder !== undefined) {
    return { written: [], problems: [problem('usage', `${folder.path} is a directory`, { location: { file: folder.path }, hint: 'move it away; gwgen init --force replaces files, never folders' })] };
  }
  try {
    await writeAll(dir, files);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    return { written: [], problems: [problem('write', `cannot write the starter files into ${dir}: ${e.code ?? e.message}`, { location: { file: e.path ?? dir }, hint: 'check that the directory can be created and written (a file in the way, permissions, free space)' })] };
  }
  return { written: files.map(([name]) => join(dir, name)), problems: [] };
}

/**
 * Writes every file or none. Each is written beside its place first and renamed over it, so an
 * existing symbolic link is replaced, not written through (its target may lie outside dir); what
 * --force replaces is moved aside first and put back if any step fails (a read-only or immutable
 * file), so a failed run leaves the user's model as it was.
 */
async function writeAll(dir: string, files: ReadonlyArray<readonly [string, string]>): Promise<void> {
  const made = await makeDirs(dir);
  const tag = `.gwgen-init-${process.pid}`;
  const fresh = files.map(([name]) => join(dir, `.${name}${tag}.new`));
  const aside: Array<[string, string]> = [];
  const placed: string[] = [];
  try {
    for (const [i, [, content]] of files.entries()) await writeFile(fresh[i]!, content, { flag: 'wx' });
    for (const [name] of files) {
      const target = join(dir, name);
      if (!(await lstat(target).then(() => true, () => false))) continue;
      const old = join(dir, `.${name}${tag}.old`);
      await rename(target, old);
      aside.push([old, target]);
    }
    for (const [i, [name]] of files.entries()) {
      await rename(fresh[i]!, join(dir, name));
      placed.push(join(dir, name));
    }
  } catch (err) {
    // Undo in reverse; a step of the undo that fails too leaves its file aside under a name that says what it is.
    for (const path of [...placed, ...fresh]) await rm(path, { force: true }).catch(() => undefined);
    for (const [old, target] of aside.reverse()) await rename(old, target).catch(() => undefined);
    if (made !== undefined) await rm(made, { recursive: true, force: true }).catch(() => undefined);
    throw err;
  }
  for (const [old] of aside) await rm(old, { force: true });
}
