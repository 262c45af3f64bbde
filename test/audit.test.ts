import { copyFileSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Ajv } from 'ajv';
import { describe, expect, it } from 'vitest';
import { audit, loadRules, parseInstant, UNKNOWN_SUPPRESSION_RULE } from '../dist/index.js';
import { gwgen, ROOT, tempDir } from './helpers.js';

const NOW = new Date('2026-11-22T00:00:00Z');
const DIR = join(ROOT, 'test/fixtures/audit');
const fixtures = readdirSync(DIR).filter((f) => f.endsWith('.ttl')).sort();
const header = (file: string, key: string) => readFileSync(join(DIR, file), 'utf8').match(new RegExp(`^# ${key}: (\\S+)`, 'm'))?.[1];

describe('built-in audit rules: one fixture per rule triggers exactly that rule', () => {
  it.each(fixtures)('%s', async (file) => {
    const result = await audit({ models: [join('test/fixtures/audit', file)], cwd: ROOT, now: NOW });
    if (!result.ok) throw new Error(JSON.stringify(result.problems));
    const active = result.findings.filter((f) => !f.suppressed);
    const expected = header(file, 'triggers');
    if (expected === 'nothing') {
      expect(active).toEqual([]);
      return;
    }
    expect(active.map((f) => f.rule)).toEqual([expected]);
    const focus = header(file, 'focus')!.replace('ex:', 'https://example.org/audit#');
    expect(active[0]!.focus).toBe(focus);
    expect(active[0]!.location.file).toBe(`test/fixtures/audit/${file}`);
    expect(active[0]!.location.line).toBeGreaterThan(0);
    expect(active[0]!.message).not.toMatch(/\{\?\w+\}/);
  });

  it('certificate-expiring says whether the certificate has expired or is about to', async () => {
    const model = join('test/fixtures/audit', 'certificate-expiring.ttl');
    const message = async (now: string) => {
      const r = await audit({ models: [model], cwd: ROOT, now: new Date(now) });
      if (!r.ok) throw new Error(JSON.stringify(r.problems));
      return r.findings.find((f) => f.rule === 'certificate-expiring')?.message;
    };
    expect(await message('2026-11-22T00:00:00Z')).toMatch(/ expires in less than 30 days \(/);
    expect(await message('2030-01-01T00:00:00Z')).toMatch(/ has expired \(/);
  });

  it('every built-in rule has its fixture, and the issue\'s catalogue is there', async () => {
    const { rules } = await loadRules();
    // With the checks gwgen makes itself (unknown-suppression, unused-suppression), as a run lists them.
    const run = await audit({ models: ['test/fixtures/audit/clean.ttl'], cwd: ROOT, now: NOW });
    if (!run.ok) throw new Error(JSON.stringify(run.problems));
    const ids = run.rules.map((r) => r.id).sort();
    expect(ids).toEqual([...rules, UNKNOWN_SUPPRESSION_RULE].map((r) => r.id).concat('unused-suppression').sort());
    const covered = fixtures.map((f) => header(f, 'triggers')).filter((t) => t !== 'nothing').sort();
    expect(covered).toEqual(ids);
    for (const id of ['route-without-rate-limit', 'route-without-authentication', 'route-without-circuit-breaker', 'route-without-timeout', 'mtls-not-strict', 'certificate-expiring', 'cors-wildcard-with-credentials', 'jwt-without-audience', 'retry-on-non-idempotent-method', 'service-without-health-check', 'split-to-unversioned-service']) {
      expect(ids).toContain(id);
    }
    const severity = Object.fromEntries(rules.map((r) => [r.id, r.severity]));
    expect(severity).toMatchObject({ 'route-without-rate-limit': 'warning', 'mtls-not-strict': 'error', 'certificate-expiring': 'error', 'cors-wildcard-with-credentials': 'error', 'jwt-without-audience': 'error', 'service-without-health-check': 'info', 'split-to-unversioned-service': 'info', 'retry-on-non-idempotent-method': 'warning' });
  });

  it('rule files also work as ggen gates: a # MESSAGE line and their own PREFIX declarations', () => {
    for (const f of readdirSync(join(ROOT, 'queries/audit'))) {
      const text = readFileSync(join(ROOT, 'queries/audit', f), 'utf8');
      expect(text, f).toMatch(/^# MESSAGE: .+/m);
      expect(text, f).toMatch(/^PREFIX agw: <https:\/\/ggen\.ai\/ontology\/api-gateway#>/m);
      expect(text, f).toMatch(/^ORDER BY /m);
    }
  });

  it('"now" is injectable: the same certificate expires soon from a later date', async () => {
    const later = await audit({ models: ['test/fixtures/audit/clean.ttl'], cwd: ROOT, now: new Date('2027-06-15T00:00:00Z') });
    if (!later.ok) throw new Error('invalid');
    expect(later.findings.map((f) => f.rule)).toEqual(['certificate-expiring']);
  });
});

describe('certificate-expiring: the same answer in every time zone', () => {
  // Comunica read NOW() with the sign of the machine's UTC offset inverted (a day off at UTC-12)
  // and a date-time without a zone in the machine's zone: the audit depended on where it ran.
  const certs: Array<[string, string, string | undefined]> = [
    ['zoneless', '2026-01-30T23:59:59', 'expires in less than 30 days'],
    ['zonelessLater', '2026-01-31T00:00:01', undefined],
    ['east', '2026-01-31T13:59:59+14:00', 'expires in less than 30 days'],
    ['eastLater', '2026-01-31T14:00:01+14:00', undefined],
    ['west', '2026-01-30T18:59:59-05:00', 'expires in less than 30 days'],
    ['westLater', '2026-01-30T19:00:01-05:00', undefined],
    ['cutoff', '2026-01-31T00:00:00Z', undefined],
    ['expired', '2025-12-31T23:59:59Z', 'has expired'],
    ['justAhead', '2026-01-01T00:00:01Z', 'expires in less than 30 days'],
  ];
  const model = [
    '@prefix agw: <https://ggen.ai/ontology/api-gateway#> .',
    '@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .',
    '@prefix ex: <https://example.org/tz#> .',
    'ex:gw a agw:ApiGateway ; agw:gatewayName "tz" ; agw:hasRoute ex:r .',
    'ex:svc a agw:BackendService ; agw:serviceName "svc" .',
    'ex:r a agw:Route ; agw:routePath "/r" ; agw:hasBackendService ex:svc .',
    ...certs.map(([name, expiry]) => `ex:${name} a agw:Certificate ; agw:certificateExpiry "${expiry}"^^xsd:dateTime .`),
  ].join('\n');
  const expected = certs.filter(([, , when]) => when).map(([name, expiry, when]) => `Certificate ${name} ${when} (${expiry}).`).sort();

  it.each([['UTC'], ['Etc/GMT+12'], ['Pacific/Kiritimati'], ['America/New_York'], ['Asia/Kolkata']])('TZ=%s', async (tz) => {
    const file = join(tempDir(), 'tz.ttl');
    writeFileSync(file, model);
    const r = await gwgen(['audit', file, '--now', '2026-01-01T00:00:00Z', '--format', 'json', '--fail-on', 'never'], { env: { TZ: tz } });
    expect(r.stderr).toBe('');
    const messages = JSON.parse(r.stdout).filter((f: { rule: string }) => f.rule === 'certificate-expiring').map((f: { message: string }) => f.message);
    expect(messages.sort()).toEqual(expected);
  });

  it('inside the hour a daylight-saving change skips (TZ=America/New_York, 2026-03-08 02:30)', async () => {
    // Comunica builds NOW() from local-time fields; 02:30 does not exist in New York that night,
    // so a clock read in the machine's zone moved NOW() an hour on. The CLI runs in UTC.
    const file = join(tempDir(), 'dst.ttl');
    writeFileSync(file, [...model.split('\n').slice(0, 6), 'ex:soon a agw:Certificate ; agw:certificateExpiry "2026-04-07T02:29:59Z"^^xsd:dateTime .', 'ex:later a agw:Certificate ; agw:certificateExpiry "2026-04-07T02:45:00Z"^^xsd:dateTime .'].join('\n'));
    const r = await gwgen(['audit', file, '--now', '2026-03-08T02:30:00Z', '--format', 'json', '--fail-on', 'never'], { env: { TZ: 'America/New_York' } });
    expect(r.stderr).toBe('');
    const focus = JSON.parse(r.stdout).filter((f: { rule: string }) => f.rule === 'certificate-expiring').map((f: { focus: string }) => f.focus);
    expect(focus).toEqual(['https://example.org/tz#soon']);
  });
});

describe('ip-allow-any: every spelling of "every address"', () => {
  const model = (cidrs: string) => `@prefix agw: <https://ggen.ai/ontology/api-gateway#> .
@prefix ex: <https://example.org/audit#> .
ex:gw a agw:ApiGateway ; agw:gatewayName "ip" ; agw:hasRoute ex:r .
ex:svc a agw:BackendService ; agw:serviceName "svc" .
ex:ips a agw:IpRestriction ; agw:allowCidr ${cidrs} .
ex:r a agw:Route ; agw:routeName "r" ; agw:routePath "/r" ; agw:hasBackendService ex:svc ; agw:hasIpRestriction ex:ips .
`;
  it.each([
    ['0.0.0.0/0 and ::/0 beside a network', '"0.0.0.0/0", "::/0", "10.0.0.0/8"', /^IP restriction ips allows (0\.0\.0\.0\/0 \(every IPv4 address\) and ::\/0 \(every IPv6 address\)|::\/0 \(every IPv6 address\) and 0\.0\.0\.0\/0 \(every IPv4 address\))\.$/],
    // Prefix length 0 allows every address whatever the address; every target writes it as is or as 0.0.0.0/0.
    ['an IPv4 range of prefix length 0', '"10.1.2.3/0"', /^IP restriction ips allows 10\.1\.2\.3\/0 \(every IPv4 address\)\.$/],
    ['an IPv6 range of prefix length 0', '"2001:db8::/0"', /^IP restriction ips allows 2001:db8::\/0 \(every IPv6 address\)\.$/],
    // An IPv4-mapped /96 is read as the IPv4 range it maps: 0.0.0.0/0.
    ['the IPv4-mapped /96, dotted', '"::FFFF:0.0.0.0/96"', /^IP restriction ips allows ::FFFF:0\.0\.0\.0\/96 \(every IPv4 address\)\.$/],
    ['the IPv4-mapped /96, uncompressed', '"0:0:0:0:0:ffff:0:0/96"', /^IP restriction ips allows 0:0:0:0:0:ffff:0:0\/96 \(every IPv4 address\)\.$/],
    ['the IPv4-mapped /96, ending in ::', '"0:0:0:0:0:ffff::/96"', /^IP restriction ips allows 0:0:0:0:0:ffff::\/96 \(every IPv4 address\)\.$/],
    ['the IPv4-mapped /96, :: among the zeros', '"0:0::ffff:a:b/96"', /^IP restriction ips allows 0:0::ffff:a:b\/96 \(every IPv4 address\)\.$/],
    ['ffff::/96 in group 4', '"0:0:0:ffff::/96"', undefined],
    ['an IPv4-mapped /97 (half of IPv4)', '"::ffff:0.0.0.0/97"', undefined],
    ['ffff in another group', '"::ffff:0:0:0/96"', undefined],
    ['networks only', '"10.0.0.0/8", "::/1"', undefined],
  ])('%s', async (_label, cidrs, message) => {
    const file = join(tempDir(), 'ip.ttl');
    writeFileSync(file, model(cidrs));
    const result = await audit({ models: [file], now: NOW });
    if (!result.ok) throw new Error(JSON.stringify(result.problems));
    const found = result.findings.filter((f) => f.rule === 'ip-allow-any');
    expect(found).toHaveLength(message ? 1 : 0);
    if (message) expect(found[0]!.message).toMatch(message);
  });
});

describe('retry-on-non-idempotent-method: which routes and methods', () => {
  // The rule's query is shaped for Comunica's planner; these cases pin what it means. Every
  // target retries a POST or PATCH only after a failed connection: a policy that asks for more
  // on such a route is a finding, one that asks for connect-failure alone is what happens.
  const model = (methods: string, attempts: number | undefined, retryOn = '') => `@prefix agw: <https://ggen.ai/ontology/api-gateway#> .
@prefix ex: <https://example.org/audit#> .
ex:gw a agw:ApiGateway ; agw:gatewayName "retry" ; agw:hasRoute ex:r .
ex:svc a agw:BackendService ; agw:serviceName "svc" .
ex:retry a agw:RetryPolicy ${attempts === undefined ? '' : `; agw:retryAttempts ${attempts}`} ${retryOn} .
ex:r a agw:Route ; agw:routeName "r" ; agw:routePath "/r" ; agw:hasBackendService ex:svc ; agw:hasRetryPolicy ex:retry ${methods} .
`;
  const tail = ': a POST or PATCH is retried only after a failed connection \\(the backend may have applied it\\), never on those\\.$';
  it.each([
    // GROUP_CONCAT has no order in SPARQL: either order of the two methods is right.
    ['POST and PATCH, listed together', '; agw:httpMethod "GET", "PATCH", "POST"', 2, '', new RegExp(`^Route r \\(/r\\) asks to retry (PATCH, POST|POST, PATCH) requests on 5xx \\(the default\\)${tail}`)],
    ['no method restriction = every method', '', 1, '', new RegExp(`^Route r \\(/r\\) asks to retry all \\(incl\\. POST, PATCH\\) requests on 5xx \\(the default\\)${tail}`)],
    ['the conditions it asks for besides connect-failure', '; agw:httpMethod "POST"', 2, '; agw:retryOn "connect-failure", "reset"', new RegExp(`^Route r \\(/r\\) asks to retry POST requests on reset${tail}`)],
    ['connect-failure alone, what every target does', '; agw:httpMethod "POST", "PATCH"', 3, '; agw:retryOn "connect-failure"', undefined],
    ['connect-failure alone on every method', '', 3, '; agw:retryOn "connect-failure"', undefined],
    ['only GET and PUT', '; agw:httpMethod "GET", "PUT"', 3, '', undefined],
    ['retryAttempts 0', '; agw:httpMethod "POST"', 0, '', undefined],
    ['retryAttempts left out: two retries', '; agw:httpMethod "POST"', undefined, '', new RegExp(`^Route r \\(/r\\) asks to retry POST requests on 5xx \\(the default\\)${tail}`)],
  ])('%s', async (_label, methods, attempts, retryOn, message) => {
    const file = join(tempDir(), 'retry.ttl');
    writeFileSync(file, model(methods, attempts, retryOn));
    const result = await audit({ models: [file], now: NOW });
    if (!result.ok) throw new Error(JSON.stringify(result.problems));
    const found = result.findings.filter((f) => f.rule === 'retry-on-non-idempotent-method');
    expect(found).toHaveLength(message ? 1 : 0);
    if (message) expect(found[0]!.message).toMatch(message);
  });
});

describe('suppressions', () => {
  it('a suppressed finding is listed as suppressed with its reason and not counted', async () => {
    const r = await gwgen(['audit', 'test/fixtures/audit/public-route-without-rate-limit.ttl', '--now', NOW.toISOString(), '--format', 'json', '--fail-on', 'warning']);
    const findings = JSON.parse(r.stdout);
    const suppressed = findings.filter((f: { suppressed?: boolean }) => f.suppressed);
    expect(suppressed.map((f: { rule: string }) => f.rule).sort()).toEqual(['route-without-authentication', 'route-without-rate-limit']);
    expect(suppressed[0].reason).toBe('reviewed: only the public-route rule should fire here');
    expect(r.exitCode).toBe(1); // the public-route error itself is not suppressed
  });

  it('suppressing every finding makes the audit pass', async () => {
    const dir = tempDir();
    const model = join(dir, 'm.ttl');
    writeFileSync(model, readFileSync(join(DIR, 'route-without-timeout.ttl'), 'utf8').replace('agw:hasAuthentication ex:jwt .\nex:write', 'agw:hasAuthentication ex:jwt ;\n  agw:auditSuppress "route-without-timeout" ; agw:auditReason "streams run long" .\nex:write'));
    const r = await gwgen(['audit', model, '--now', NOW.toISOString(), '--fail-on', 'warning']);
    expect(r.stdout).toContain('suppressed (1)');
    expect(r.stdout).toContain('0 errors, 0 warnings, 0 info, 1 suppressed');
    expect(r.exitCode).toBe(0);
  });
  it('a blank node suppresses and is located too, on every run of one process', async () => {
    const dir = tempDir();
    const model = join(dir, 'blank.ttl');
    writeFileSync(
      model,
      [
        '@prefix agw: <https://ggen.ai/ontology/api-gateway#> .',
        '@prefix ex: <https://example.org/blank#> .',
        'ex:gw a agw:ApiGateway ; agw:gatewayName "blank" ; agw:hasRoute [',
        '  a agw:Route ; agw:routeName "open" ; agw:routePath "/open" ; agw:hasBackendService ex:svc ;',
        '  agw:auditSuppress "route-without-rate-limit" ; agw:auditReason "internal only"',
        '] .',
        'ex:svc a agw:BackendService ; agw:serviceName "svc" .',
      ].join('\n'),
    );
    // N3 labels blank nodes from process-wide counters; the worker's answer must still name the node this thread knows.
    for (let run = 0; run < 2; run++) {
      const r = await audit({ models: [model], now: NOW });
      if (!r.ok) throw new Error(JSON.stringify(r.problems));
      const finding = r.findings.find((f) => f.rule === 'route-without-rate-limit');
      expect(finding?.suppressed).toEqual({ reason: 'internal only' });
      expect(finding?.location.line).toBe(3);
      // No IRI to give: the focus is written as N-Triples writes a blank node.
      expect(finding?.focus).toMatch(/^_:\w+$/);
    }
  });
});

describe('where a blank-node finding is located', () => {
  it('at its own subject line (`_:x a …`) or at the `[` that opens it, not at the statement that refers to it', async () => {
    const dir = tempDir();
    const model = join(dir, 'blank-lines.ttl');
    const lines = [
      '@prefix agw: <https://ggen.ai/ontology/api-gateway#> .',
      '@prefix ex: <https://example.org/x#> .',
      'ex:gw a agw:ApiGateway ; agw:gatewayName "g" ;',
      '  agw:hasRoute ex:r ;',
      '  agw:hasCorsPolicy _:cors .',
      'ex:r a agw:Route ; agw:routePath "/r" ; agw:hasBackendService ex:s ;',
      '  agw:hasAuthentication',
      '    [ a agw:JWTAuthentication ; agw:issuer "https://i.example.org" ;',
      '      agw:jwksUri "https://i.example.org/jwks" ] .',
      'ex:s a agw:BackendService ; agw:serviceName "s" .',
      '',
      '_:cors a agw:CorsPolicy ; agw:allowOrigin "*" ; agw:allowCredentials true .',
      '_:orphan a agw:BackendService ; agw:serviceName "orphan" .',
    ];
    writeFileSync(model, `${lines.join('\n')}\n`);
    const r = await audit({ models: [model], now: NOW });
    if (!r.ok) throw new Error(JSON.stringify(r.problems));
    const at = (rule: string, focus: RegExp) => {
      const f = r.findings.find((x) => x.rule === rule && focus.test(x.focus));
      return f && `${f.location.line}:${f.location.column}`;
    };
    const table: Array<[string, RegExp, string]> = [
      ['cors-wildcard-with-credentials', /cors/, '12:1'], // `_:cors` as a subject, not line 5 where the gateway names it
      ['jwt-without-audience', /^_:b\d+$/, '8:5'], // the `[`
      ['service-without-health-check', /orphan/, '13:1'], // referred to by nothing: located all the same
      ['service-without-health-check', /#s$/, '10:1'],
    ];
    for (const [rule, focus, where] of table) expect(at(rule, focus), rule).toBe(where);
  });
});

describe('where findings are located when a model is split into files', () => {
  // A suppressions file given first (`gwgen audit *.ttl` lists "audit-suppressions.ttl" before
  // "routes.ttl") had the first statement about each route, so every finding about the route
  // pointed at its suppression, and code scanning annotated that line instead of the route.
  it('a finding about a node is at the statement that types it; one about a suppression at its agw:auditSuppress', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'audit-suppressions.ttl'), [
      '@prefix agw: <https://ggen.ai/ontology/api-gateway#> .',
      '@prefix ex: <https://example.org/split#> .',
      'ex:orders agw:auditSuppress "route-without-circuit-breaker" ; agw:auditReason "idempotent reads only" .',
      'ex:orders',
      '  agw:auditSuppress "route-without-timeout" .',
      'ex:svc agw:auditSuppress "service-without-healthcheck" .',
    ].join('\n'));
    writeFileSync(join(dir, 'gateway.ttl'), [
      '@prefix agw: <https://ggen.ai/ontology/api-gateway#> .',
      '@prefix ex: <https://example.org/split#> .',
      'ex:gw a agw:ApiGateway ; agw:gatewayName "split" ; agw:hasRoute ex:orders .',
      'ex:svc agw:serviceName "svc" ;',
      '  a agw:BackendService .',
    ].join('\n'));
    writeFileSync(join(dir, 'routes.ttl'), [
      '@prefix agw: <https://ggen.ai/ontology/api-gateway#> .',
      '@prefix ex: <https://example.org/split#> .',
      '',
      'ex:orders agw:hasRateLimiter [ a agw:RateLimiter ; agw:requestsPerSecond 5 ] .',
      'ex:orders a agw:Route ; agw:routePath "/orders" ; agw:hasBackendService ex:svc .',
    ].join('\n'));
    const models = ['audit-suppressions.ttl', 'gateway.ttl', 'routes.ttl'];
    const r = await gwgen(['audit', ...models, '--format', 'json', '--fail-on', 'never'], { cwd: dir });
    expect(r.exitCode, r.stderr).toBe(0);
    const at = (rule: string) => (JSON.parse(r.stdout) as Array<{ rule: string; location: unknown }>).filter((f) => f.rule === rule).map((f) => f.location);
    // The route's own statements in routes.ttl: the one with `a agw:Route`, not the limiter's before it.
    expect(at('route-without-authentication')).toEqual([{ file: 'routes.ttl', line: 5, column: 1 }]);
    expect(at('route-without-timeout')).toEqual([{ file: 'routes.ttl', line: 5, column: 1 }]);
    expect(at('service-without-health-check')).toEqual([{ file: 'gateway.ttl', line: 4, column: 1 }]);
    expect(at('suppression-without-reason')).toEqual([{ file: 'audit-suppressions.ttl', line: 6, column: 8 }]);
    expect(at('unknown-suppression')).toEqual([{ file: 'audit-suppressions.ttl', line: 6, column: 8 }]);
    // The same places in SARIF, and whatever order the files are given in.
    const sarif = await gwgen(['audit', ...models.reverse(), '--format', 'sarif', '--fail-on', 'never'], { cwd: dir });
    const regions = Object.fromEntries(
      JSON.parse(sarif.stdout).runs[0].results.map((x: { ruleId: string; locations: Array<{ physicalLocation: { artifactLocation: { uri: string }; region: { startLine: number } } }> }) => [x.ruleId, `${x.locations[0]!.physicalLocation.artifactLocation.uri}:${x.locations[0]!.physicalLocation.region.startLine}`]),
    );
    expect(regions).toMatchObject({ 'route-without-authentication': 'routes.ttl:5', 'service-without-health-check': 'gateway.ttl:4', 'suppression-without-reason': 'audit-suppressions.ttl:6', 'unknown-suppression': 'audit-suppressions.ttl:6' });
  });
});

describe('unknown-suppression: a suppression naming no loaded rule', () => {
  const model = (id: string) =>
    [
      '@prefix agw: <https://ggen.ai/ontology/api-gateway#> .',
      '@prefix ex: <https://example.org/s#> .',
      'ex:gw a agw:ApiGateway ; agw:gatewayName "s" ; agw:hasRoute ex:r .',
      'ex:r a agw:Route ; agw:routeName "r" ; agw:routePath "/r" ; agw:hasBackendService ex:svc .',
      `ex:svc a agw:BackendService ; agw:serviceName "svc" ; agw:auditSuppress "${id}" ; agw:auditReason "checked" .`,
    ].join('\n');
  const userRules = join(tempDir(), 'rules');
  mkdirSync(userRules);
  writeFileSync(join(userRules, 'team.rq'), '# id: team-policy\n# severity: info\n# message: {?focus}\nSELECT ?focus WHERE { ?focus a <urn:none> }');
  // Each: the suppressed id, the --rules directories, the finding's message (undefined: none).
  it.each([
    ['service-without-healthcheck', [], 'svc suppresses "service-without-healthcheck", which is not the id of any loaded audit rule: it suppresses nothing. Did you mean "service-without-health-check"?'],
    ['nothing-like-any-rule', [], 'svc suppresses "nothing-like-any-rule", which is not the id of any loaded audit rule: it suppresses nothing.'],
    ['service-without-health-check', [], undefined],
    ['unknown-suppression', [], undefined],
    ['team-policy', [userRules], undefined],
    ['team-policy', [], 'svc suppresses "team-policy", which is not the id of any loaded audit rule: it suppresses nothing.'],
  ])('agw:auditSuppress %j with --rules %j', async (id, ruleDirs, message) => {
    const file = join(tempDir(), 'm.ttl');
    writeFileSync(file, model(id));
    const r = await audit({ models: [file], ruleDirs, now: NOW });
    if (!r.ok) throw new Error(JSON.stringify(r.problems));
    const found = r.findings.filter((f) => f.rule === 'unknown-suppression');
    expect(found.map((f) => f.message)).toEqual(message ? [message] : []);
    if (message) {
      expect(found[0]).toMatchObject({ severity: 'warning', focus: 'https://example.org/s#svc', location: { line: 5 } });
      expect(found[0]!.suppressed).toBeUndefined();
    }
  });

  it('is listed among the SARIF rules, and a rule file cannot take its id', async () => {
    const file = join(tempDir(), 'm.ttl');
    writeFileSync(file, model('route-without-timout'));
    const r = await gwgen(['audit', file, '--format', 'sarif', '--fail-on', 'never']);
    const run = JSON.parse(r.stdout).runs[0];
    const result = run.results.find((x: { ruleId: string }) => x.ruleId === 'unknown-suppression');
    expect(run.tool.driver.rules[result.ruleIndex]).toMatchObject({ id: 'unknown-suppression', defaultConfiguration: { level: 'warning' } });
    const dir = join(tempDir(), 'rules');
    mkdirSync(dir);
    writeFileSync(join(dir, 'x.rq'), '# id: unknown-suppression\n# severity: info\n# message: {?focus}\nSELECT ?focus WHERE { ?focus a <urn:none> }');
    const clash = await gwgen(['audit', file, '--rules', dir]);
    expect(clash.exitCode).toBe(2);
    expect(clash.stderr).toContain('id "unknown-suppression" is already used');
  });
});

describe('unused-suppression: a suppression of a rule that finds nothing on its node', () => {
  const model = [
    '@prefix agw: <https://ggen.ai/ontology/api-gateway#> .',
    '@prefix ex: <https://example.org/u#> .',
    // Meant for the routes: a suppression covers only findings about its own node.
    'ex:gw a agw:ApiGateway ; agw:gatewayName "u" ; agw:hasRoute ex:r, [ a agw:Route ; agw:routeName "anon" ; agw:routePath "/anon" ; agw:hasBackendService ex:svc ;',
    '    agw:auditSuppress "route-without-timeout" ; agw:auditReason "streams" ] ;',
    '  agw:auditSuppress "route-without-timeout", "team-policy" ; agw:auditReason "routes stream" .',
    'ex:r a agw:Route ; agw:routeName "r" ; agw:routePath "/r" ; agw:hasBackendService ex:svc ; agw:timeoutSeconds 5 ;',
    // Left after the fix: the route has its timeout now.
    '  agw:auditSuppress "route-without-timeout", "route-without-circuit-breaker" ; agw:auditReason "legacy" .',
    // mtls-not-strict is about the service, not its agw:MutualTLS.
    'ex:svc a agw:BackendService ; agw:serviceName "svc" ; agw:hasMutualTLS ex:mtls .',
    'ex:mtls a agw:MutualTLS ; agw:mtlsMode "PERMISSIVE" ; agw:auditSuppress "mtls-not-strict" ; agw:auditReason "migrating" .',
  ].join('\n');
  const teamRules = join(tempDir(), 'rules');
  mkdirSync(teamRules);
  writeFileSync(join(teamRules, 'team.rq'), '# id: team-policy\n# severity: info\n# message: {?focus}\nSELECT ?focus WHERE { ?focus a <urn:none> }');

  it('is listed on the node that states it, and the suppression that is used is not', async () => {
    const file = join(tempDir(), 'm.ttl');
    writeFileSync(file, model);
    const r = await audit({ models: [file], ruleDirs: [teamRules], now: NOW });
    if (!r.ok) throw new Error(JSON.stringify(r.problems));
    const unused = r.findings.filter((f) => f.rule === 'unused-suppression').map((f) => [f.focus, f.message, f.location.line, f.severity]);
    const says = (node: string, rule: string) => `${node} suppresses "${rule}", which finds nothing on it: a suppression covers only the findings about the node it is stated on.`;
    expect(unused).toEqual([
      // At the agw:auditSuppress line (the gateway's statement starts on line 3).
      ['https://example.org/u#gw', says('gw', 'route-without-timeout'), 5, 'info'],
      ['https://example.org/u#gw', says('gw', 'team-policy'), 5, 'info'],
      ['https://example.org/u#mtls', says('mtls', 'mtls-not-strict'), 9, 'info'],
      ['https://example.org/u#r', says('r', 'route-without-timeout'), 7, 'info'],
    ]);
    // What the suppressions were meant for: the anonymous route's is used, the others are not.
    expect(r.findings.find((f) => f.rule === 'route-without-timeout' && f.focus.startsWith('_:'))?.suppressed).toEqual({ reason: 'streams' });
    expect(r.findings.find((f) => f.rule === 'mtls-not-strict')).toMatchObject({ focus: 'https://example.org/u#svc' });
    expect(r.findings.find((f) => f.rule === 'mtls-not-strict')!.suppressed).toBeUndefined();
    expect(r.findings.find((f) => f.rule === 'route-without-circuit-breaker' && f.focus === 'https://example.org/u#r')?.suppressed).toEqual({ reason: 'legacy' });
  });

  it('is info: it fails no --fail-on level, is a SARIF note, and a rule file cannot take its id', async () => {
    const file = join(tempDir(), 'm.ttl');
    writeFileSync(file, readFileSync(join(DIR, 'unused-suppression.ttl')));
    const r = await gwgen(['audit', file, '--format', 'sarif', '--fail-on', 'warning', '--now', '2026-11-22']);
    expect(r.exitCode).toBe(0);
    const run = JSON.parse(r.stdout).runs[0];
    expect(run.results.map((x: { ruleId: string; level: string }) => [x.ruleId, x.level])).toEqual([['unused-suppression', 'note']]);
    expect(run.tool.driver.rules[run.results[0].ruleIndex]).toMatchObject({ id: 'unused-suppression', defaultConfiguration: { level: 'note' } });
    const dir = join(tempDir(), 'rules');
    mkdirSync(dir);
    writeFileSync(join(dir, 'x.rq'), '# id: unused-suppression\n# severity: info\n# message: {?focus}\nSELECT ?focus WHERE { ?focus a <urn:none> }');
    const clash = await gwgen(['audit', file, '--rules', dir]);
    expect(clash.exitCode).toBe(2);
    expect(clash.stderr).toContain('id "unused-suppression" is already used');
  });
});

describe('gwgen audit: formats and exit codes', () => {
  it('json is an array of { rule, severity, focus, message }', async () => {
    const r = await gwgen(['audit', 'examples/mesh-shop.ttl', '--format', 'json', '--fail-on', 'never']);
    expect(r.exitCode).toBe(0);
    const findings = JSON.parse(r.stdout);
    expect(findings.length).toBeGreaterThan(3);
    for (const f of findings) {
      expect(Object.keys(f).slice(0, 4)).toEqual(['rule', 'severity', 'focus', 'message']);
      expect(f.focus).toMatch(/^https?:\/\//);
      expect(['error', 'warning', 'info']).toContain(f.severity);
    }
  });

  it('json locates each finding in the model file that defines its node, merged models and blank nodes too', async () => {
    const dir = tempDir();
    const prefixes = '@prefix agw: <https://ggen.ai/ontology/api-gateway#> .\n@prefix ex: <https://example.org/split#> .\n';
    writeFileSync(join(dir, 'gateway.ttl'), `${prefixes}ex:gw a agw:ApiGateway ; agw:gatewayName "split" ; agw:hasRoute ex:open .\n`);
    writeFileSync(
      join(dir, 'routes.ttl'),
      `${prefixes}\nex:svc a agw:BackendService ; agw:serviceName "svc" ;\n  agw:hasHealthCheck [ a agw:HealthCheck ; agw:healthCheckPath "/h" ] .\nex:open a agw:Route ; agw:routePath "/open" ; agw:hasBackendService ex:svc ;\n  agw:hasAuthentication [ a agw:JWTAuthentication ; agw:issuer "https://idp.example" ; agw:secretEnv "S" ] .\n`,
    );
    const r = await gwgen(['audit', 'gateway.ttl', 'routes.ttl', '--format', 'json', '--fail-on', 'never'], { cwd: dir });
    expect(r.exitCode, r.stderr).toBe(0);
    const findings = JSON.parse(r.stdout) as Array<{ rule: string; focus: string; location?: { file: string; line: number; column?: number } }>;
    const at = (rule: string) => findings.find((f) => f.rule === rule)?.location;
    expect(at('route-without-timeout')).toEqual({ file: 'routes.ttl', line: 6, column: 1 });
    // The blank JWT node is located at the "[" that opens it.
    expect(at('jwt-without-audience')).toEqual({ file: 'routes.ttl', line: 7, column: 25 });
    expect(findings.every((f) => f.location !== undefined)).toBe(true);
  });

  it('sarif is a SARIF 2.1.0 log with rules, levels and model locations', async () => {
    const r = await gwgen(['audit', 'examples/mesh-shop.ttl', '--format', 'sarif', '--fail-on', 'never']);
    const log = JSON.parse(r.stdout);
    const schema = JSON.parse(readFileSync(join(ROOT, 'test/schemas/sarif-2.1.0-subset.schema.json'), 'utf8'));
    const validate = new Ajv({ allErrors: true, strict: true, validateFormats: false }).compile(schema);
    expect(validate(log), JSON.stringify(validate.errors)).toBe(true);
    const run = log.runs[0];
    expect(run.tool.driver.name).toBe('gwgen');
    const ruleIds = run.tool.driver.rules.map((x: { id: string }) => x.id);
    for (const res of run.results) {
      expect(ruleIds[res.ruleIndex]).toBe(res.ruleId);
      const loc = res.locations[0].physicalLocation;
      expect(loc.artifactLocation.uri).toBe('examples/mesh-shop.ttl');
      const line = readFileSync(join(ROOT, 'examples/mesh-shop.ttl'), 'utf8').split('\n')[loc.region.startLine - 1]!;
      // The line is where the focus node is defined: it starts with the node's prefixed name.
      expect(line.startsWith(`:${res.locations[0].logicalLocations[0].fullyQualifiedName.replace(/.*#/, '')}`) || line.includes(res.locations[0].logicalLocations[0].fullyQualifiedName.replace(/.*#/, ''))).toBe(true);
    }
    expect(run.results.map((x: { level: string }) => x.level)).toContain('error');
  });

  it('sarif writes each brace of a message twice (SARIF 2.1.0, 3.11.5: {0} would be a placeholder), so a path parameter survives', async () => {
    const dir = join(tempDir(), 'rules');
    mkdirSync(dir);
    writeFileSync(join(dir, 'x.rq'), '# id: braces-rule\n# severity: info\n# title: Route {path} check\n# message: Route {?focus} at {?path} {0}\n# description: Looks at {path} and {{x}}\n# help: Rename {0}\nSELECT ?focus ?path WHERE { ?focus agw:routePath ?path FILTER(CONTAINS(?path, "{")) }\n');
    const json = await gwgen(['audit', 'examples/metered-api.ttl', '--rules', dir, '--format', 'json', '--fail-on', 'never']);
    const sarif = await gwgen(['audit', 'examples/metered-api.ttl', '--rules', dir, '--format', 'sarif', '--fail-on', 'never']);
    expect(sarif.exitCode, sarif.stderr).toBe(0);
    const log = JSON.parse(sarif.stdout);
    const schema = JSON.parse(readFileSync(join(ROOT, 'test/schemas/sarif-2.1.0-subset.schema.json'), 'utf8'));
    const validate = new Ajv({ allErrors: true, strict: true, validateFormats: false }).compile(schema);
    expect(validate(log), JSON.stringify(validate.errors)).toBe(true);
    const texts = log.runs[0].results.map((x: { message: { text: string } }) => x.message.text);
    expect(texts).toContain('Route tiles (/v1/tiles/{{z}}/{{x}}/{{y}}) has no circuit breaker: a failing backend keeps receiving traffic.');
    expect(texts).toContain('Route tiles at /v1/tiles/{{z}}/{{x}}/{{y}} {{0}}');
    // Read back as a viewer does ({{ is {), each message is the one json and table print.
    expect(texts.map((t: string) => t.replace(/\{\{|\}\}/g, (b) => b[0]!))).toEqual(JSON.parse(json.stdout).map((f: { message: string }) => f.message));
    const rule = log.runs[0].tool.driver.rules.find((x: { id: string }) => x.id === 'braces-rule');
    expect([rule.shortDescription.text, rule.fullDescription.text, rule.help.text]).toEqual(['Route {{path}} check', 'Looks at {{path}} and {{{{x}}}}', 'Rename {{0}}']);
  });

  // Each: the working directory, the model argument, the artifactLocation (a model under the working directory is relative to %SRCROOT%).
  it.each([
    ['relative, under the working directory', (d: string) => [d, 'my model#1.ttl'], () => ({ uri: 'my%20model%231.ttl', uriBaseId: '%SRCROOT%' })],
    ['absolute, under the working directory', (d: string) => [d, join(d, 'sub', 'm.ttl')], () => ({ uri: 'sub/m.ttl', uriBaseId: '%SRCROOT%' })],
    ['absolute, elsewhere', (d: string) => [ROOT, join(d, 'my model#1.ttl')], (d: string) => ({ uri: `${pathToFileURL(d).href}/my%20model%231.ttl` })],
  ])('sarif artifact locations are URI references (%s)', async (_name, where, expected) => {
    const dir = tempDir();
    mkdirSync(join(dir, 'sub'));
    copyFileSync(join(ROOT, 'examples/mesh-shop.ttl'), join(dir, 'my model#1.ttl'));
    copyFileSync(join(ROOT, 'examples/mesh-shop.ttl'), join(dir, 'sub', 'm.ttl'));
    const [cwd, model] = where(dir);
    const r = await gwgen(['audit', model!, '--format', 'sarif', '--fail-on', 'never'], { cwd: cwd! });
    const log = JSON.parse(r.stdout);
    const schema = JSON.parse(readFileSync(join(ROOT, 'test/schemas/sarif-2.1.0-subset.schema.json'), 'utf8'));
    const validate = new Ajv({ allErrors: true, strict: true, validateFormats: false }).compile(schema);
    expect(validate(log), JSON.stringify(validate.errors)).toBe(true);
    const run = log.runs[0];
    const locations = new Set(run.results.map((x: { locations: Array<{ physicalLocation: { artifactLocation: unknown } }> }) => JSON.stringify(x.locations[0]!.physicalLocation.artifactLocation)));
    expect([...locations].map((l) => JSON.parse(l as string))).toEqual([expected(dir)]);
    expect(run.originalUriBaseIds).toEqual({ '%SRCROOT%': { uri: pathToFileURL(cwd!).href.replace(/\/?$/, '/') } });
  });

  it('sarif fingerprints of blank nodes do not shift when blank nodes are added above them', async () => {
    const model = (extra: string) =>
      [
        '@prefix agw: <https://ggen.ai/ontology/api-gateway#> .',
        '@prefix ex: <https://example.org/blank#> .',
        extra,
        'ex:gw a agw:ApiGateway ; agw:gatewayName "blank" ; agw:hasRoute [',
        '  a agw:Route ; agw:routeName "open" ; agw:routePath "/open" ; agw:hasBackendService ex:svc ] , [',
        '  a agw:Route ; agw:routeName "other" ; agw:routePath "/other" ; agw:hasBackendService ex:svc ] .',
        'ex:svc a agw:BackendService ; agw:serviceName "svc" ; agw:hasHealthCheck [ a agw:HealthCheck ; agw:healthCheckPath "/h" ] .',
        '[] a agw:BackendService ; agw:serviceName "loose" .',
        // Twins: alike in path (none) and content, told apart by their place.
        '[ a agw:Certificate ; agw:certificateExpiry "2020-01-01T00:00:00Z"^^<http://www.w3.org/2001/XMLSchema#dateTime> ] .',
        '[ a agw:Certificate ; agw:certificateExpiry "2020-01-01T00:00:00Z"^^<http://www.w3.org/2001/XMLSchema#dateTime> ] .',
      ].join('\n');
    const fingerprints = async (extra: string) => {
      const file = join(tempDir(), 'm.ttl');
      writeFileSync(file, model(extra));
      const r = await gwgen(['audit', file, '--format', 'sarif', '--fail-on', 'never']);
      const results = JSON.parse(r.stdout).runs[0].results as Array<{ ruleId: string; partialFingerprints: Record<string, string>; locations: Array<{ logicalLocations: Array<{ fullyQualifiedName: string }> }> }>;
      return results.map((x) => ({ fingerprint: x.partialFingerprints['gwgenFinding/v1']!, focus: x.locations[0]!.logicalLocations[0]!.fullyQualifiedName }));
    };
    const before = await fingerprints('');
    const after = await fingerprints(
      ['x', 'y'].map((n) => `ex:${n} a agw:BackendService ; agw:serviceName "${n}" ; agw:hasHealthCheck [ a agw:HealthCheck ; agw:healthCheckPath "/${n}" ] .`).join('\n'),
    );
    // The blank nodes' labels moved; their fingerprints did not.
    expect(after.map((f) => f.focus).sort()).not.toEqual(before.map((f) => f.focus).sort());
    expect(after.map((f) => f.fingerprint).sort()).toEqual(before.map((f) => f.fingerprint).sort());
    // A path from a named node; two routes on one path told apart; a node nothing reaches by its content.
    const prints = before.map((f) => f.fingerprint);
    expect(new Set(prints).size).toBe(prints.length);
    expect(prints.filter((p) => p.startsWith('route-without-rate-limit|<https://example.org/blank#gw> agw:hasRoute [] #'))).toHaveLength(2);
    expect(prints.filter((p) => /^service-without-health-check\|\[\] #[0-9a-f]{16}$/.test(p))).toHaveLength(1);
    expect(prints.filter((p) => /^certificate-expiring\|\[\] #[0-9a-f]{16} #[0-9a-f]{16} ~[12]$/.test(p))).toHaveLength(2);
  });

  it('several findings of one rule about one node: one SARIF fingerprint each, repeated rows once, one unreasoned suppression once', async () => {
    const dir = tempDir();
    const model = join(dir, 'm.ttl');
    writeFileSync(
      model,
      [
        '@prefix agw: <https://ggen.ai/ontology/api-gateway#> .',
        '@prefix ex: <https://example.org/many#> .',
        'ex:gw a agw:ApiGateway ; agw:gatewayName "many" ; agw:hasRoute ex:r .',
        'ex:svc a agw:BackendService ; agw:serviceName "svc" ; agw:hasHealthCheck [ a agw:HealthCheck ; agw:healthCheckPath "/h" ] .',
        'ex:r a agw:Route ; agw:routePath "/r" ; agw:hasBackendService ex:svc ;',
        '  agw:auditSuppress "zz-no-such-rule" , "route-without-timeout" , "aa-no-such-rule" , "public-route-without-rate-limit" .',
      ].join('\n'),
    );
    const rules = join(dir, 'rules');
    mkdirSync(rules);
    // A row per suppression: the same message three times, then a message per suppressed id.
    const head = (id: string, message: string) => `# id: ${id}\n# severity: warning\n# message: ${message}\nPREFIX agw: <https://ggen.ai/ontology/api-gateway#>\n`;
    writeFileSync(join(rules, 'repeats.rq'), `${head('route-with-suppressions', 'Route {?focus} suppresses rules')}SELECT ?focus WHERE { ?focus a agw:Route ; agw:auditSuppress ?s }`);
    writeFileSync(join(rules, 'per-value.rq'), `${head('suppressed-rule-listed', 'Route {?focus} suppresses {?s}')}SELECT ?focus ?s WHERE { ?focus a agw:Route ; agw:auditSuppress ?s }`);
    const r = await gwgen(['audit', model, '--rules', rules, '--format', 'sarif', '--fail-on', 'never'], { cwd: dir });
    expect(r.exitCode, r.stderr).toBe(0);
    const results = JSON.parse(r.stdout).runs[0].results as Array<{ ruleId: string; message: { text: string }; partialFingerprints: Record<string, string> }>;
    const prints = results.map((x) => x.partialFingerprints['gwgenFinding/v1']!);
    expect(new Set(prints).size).toBe(prints.length);
    const of = (rule: string) => results.filter((x) => x.ruleId === rule);
    expect(of('route-with-suppressions')).toHaveLength(1);
    expect(of('suppressed-rule-listed')).toHaveLength(4);
    expect(of('unknown-suppression')).toHaveLength(2);
    // A node alone in its rule keeps the plain fingerprint; those that share a node are told apart.
    expect(of('route-with-suppressions')[0]!.partialFingerprints['gwgenFinding/v1']).toBe('route-with-suppressions|https://example.org/many#r');
    expect(of('unknown-suppression').map((x) => x.partialFingerprints['gwgenFinding/v1']!).every((p) => /^unknown-suppression\|https:\/\/example\.org\/many#r #[0-9a-f]{16}$/.test(p))).toBe(true);
    expect(of('suppression-without-reason').map((x) => x.message.text)).toEqual(['r suppresses aa-no-such-rule, public-route-without-rate-limit, route-without-timeout, zz-no-such-rule without agw:auditReason.']);
    // The same run again gives the same fingerprints.
    const again = await gwgen(['audit', model, '--rules', rules, '--format', 'sarif', '--fail-on', 'never'], { cwd: dir });
    expect(JSON.parse(again.stdout).runs[0].results.map((x: { partialFingerprints: Record<string, string> }) => x.partialFingerprints['gwgenFinding/v1'])).toEqual(prints);
  });

  it('table groups by severity', async () => {
    const r = await gwgen(['audit', 'examples/mesh-shop.ttl']);
    expect(r.exitCode).toBe(1);
    expect(r.stdout).toMatch(/^error \(\d+\)\n/);
    expect(r.stdout.indexOf('warning (')).toBeGreaterThan(r.stdout.indexOf('error ('));
    expect(r.stdout).toMatch(/\d+ errors?, \d+ warnings?, \d+ info, \d+ suppressed$/);
  });

  it.each([
    ['error', 'examples/metered-api.ttl', 0],
    ['warning', 'examples/metered-api.ttl', 1],
    ['never', 'examples/mesh-shop.ttl', 0],
    ['error', 'examples/mesh-shop.ttl', 1],
  ])('--fail-on %s on %s exits %i', async (failOn, model, code) => {
    const r = await gwgen(['audit', model, '--fail-on', failOn, '--format', 'json']);
    expect(r.exitCode).toBe(code);
  });

  it('an invalid model is exit 1 with the validation problems', async () => {
    const r = await gwgen(['audit', 'test/fixtures/invalid/split-sum.ttl']);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain('sum to 95');
  });
});

describe('--rules: user rules', () => {
  const rule = (id: string, body: string) => `# id: ${id}\n# severity: error\n# message: Service {?name} has no image\n# MESSAGE: Service without image\nPREFIX agw: <https://ggen.ai/ontology/api-gateway#>\n${body}\n`;

  it('adds the rules of a directory', async () => {
    const dir = join(tempDir(), 'rules');
    mkdirSync(dir);
    writeFileSync(join(dir, 'service-without-image.rq'), rule('service-without-image', 'SELECT ?focus ?name WHERE { ?focus a agw:BackendService ; agw:serviceName ?name . MINUS { ?focus agw:image ?i } } ORDER BY ?focus'));
    const r = await gwgen(['audit', 'examples/metered-api.ttl', '--rules', dir, '--format', 'json']);
    const findings = JSON.parse(r.stdout).filter((f: { rule: string }) => f.rule === 'service-without-image');
    expect(findings.length).toBeGreaterThan(0);
    expect(findings[0].message).toMatch(/^Service [a-z-]+ has no image$/);
    expect(r.exitCode).toBe(1);
  });

  it.each([
    ['a query that does not parse', rule('broken', 'SELECT ?focus ?name WHERE { ?focus a agw:Route '), 'does not parse', ':6:'],
    ['a missing severity', '# id: x\n# message: m\nSELECT ?focus WHERE { ?focus a <urn:x> }', 'severity', ': error'],
    ['no ?focus', rule('no-focus', 'SELECT ?name WHERE { ?s <urn:p> ?name }'), '?focus', ':6:1: error'],
    ['no ?focus in SELECT * (known once the query ran)', rule('no-focus', 'SELECT * WHERE { ?s agw:serviceName ?name }'), 'must select ?focus', ':6:1: error'],
    ['a duplicate id', rule('route-without-timeout', 'SELECT ?focus ?name WHERE { ?focus a agw:Route ; agw:routeName ?name }'), 'already used', ':1:7: error'],
    ['a placeholder the SELECT does not project', rule('unprojected', 'SELECT ?focus WHERE { ?focus a agw:BackendService ; agw:serviceName ?name }'), 'the message uses {?name}, but the query does not select ?name', ':3:20: error'],
    ['a placeholder SELECT * does not bind', rule('unprojected', 'SELECT * WHERE { ?focus a agw:BackendService }'), 'the message uses {?name}, but the query does not select ?name', ':3:20: error'],
    ['a placeholder bound only inside an expression', rule('unprojected', 'SELECT ?focus (STR(?name) AS ?label) WHERE { ?focus agw:serviceName ?name }'), 'does not select ?name', ':3:20: error'],
    ['an ASK query', rule('ask', 'ASK { ?focus a agw:BackendService }'), 'must be a SPARQL SELECT query (each row is a finding), not ASK', ':6:1: error'],
    ['an update', rule('update', 'DELETE WHERE { ?focus a agw:BackendService }'), 'must be a SPARQL SELECT query (each row is a finding), not an update', ':6:1: error'],
    ['a header and no query, located where the query should start', '# id: no-query\n# severity: error\n# message: m {?focus}\n\n', 'must be a SPARQL SELECT query (each row is a finding), and the file has no query after its header', ':4:1: error'],
  ])('a broken rule file (%s) is an error naming the file, at the line it is about', async (_name, text, message, where) => {
    // The id, message and query-form problems used to name the file alone (contract: file:line:col).
    const dir = join(tempDir(), 'rules');
    mkdirSync(dir);
    writeFileSync(join(dir, 'bad.rq'), text);
    const r = await gwgen(['audit', 'examples/metered-api.ttl', '--rules', dir]);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain(`${join(dir, 'bad.rq')}${where}`);
    expect(r.stderr).toContain(message);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });
});

describe('--rules: what a rule file may look like', () => {
  const meta = '# id: x-rule\n# severity: warning\n# message: Service {?name} has no image\n# MESSAGE: Service without image\n';
  const agw = 'PREFIX agw: <https://ggen.ai/ontology/api-gateway#>';
  it.each([
    ['a PREFIX with "#" in its IRI on the line of the SELECT', `${meta}${agw} SELECT ?focus ?name WHERE { ?focus agw:serviceName ?name }`],
    ['SELECT *, which selects ?focus', `${meta}${agw}\nSELECT * WHERE { ?focus a agw:BackendService ; agw:serviceName ?name }`],
    ['SELECT DISTINCT and (expression AS ?name)', `${meta}${agw}\nSELECT DISTINCT ?focus (STR(?n) AS ?name) WHERE { ?focus agw:serviceName ?n }`],
    ['"#" in a string and a comment', `${meta}${agw}\nSELECT ?focus ?name # the service and its name\nWHERE { ?focus agw:serviceName ?name FILTER(?name != "a # b") }`],
    ['a byte order mark and CRLF line ends', `\uFEFF${meta}${agw}\nSELECT ?focus ?name\nWHERE { ?focus agw:serviceName ?name }\n`.replace(/\n/g, '\r\n')],
  ])('%s is a rule', async (_name, text) => {
    const dir = join(tempDir(), 'rules');
    mkdirSync(dir);
    writeFileSync(join(dir, 'x.rq'), text);
    const r = await gwgen(['audit', 'examples/metered-api.ttl', '--rules', dir, '--format', 'json', '--fail-on', 'never']);
    expect(r.stderr).toBe('');
    const found = JSON.parse(r.stdout).filter((f: { rule: string }) => f.rule === 'x-rule');
    expect(found.length).toBeGreaterThan(0);
    expect(found[0].message).toMatch(/^Service [a-z-]+ has no image$/);
  });

  it.each([
    ['a severity out of the list', `# id: x-rule\n# severity: fatal\n# message: m\n${agw}\nSELECT ?focus WHERE { ?focus a agw:Route }`, ':2:13: error: audit rule', 'needs "# severity: error|warning|info" (found "fatal")'],
    ['an id that is not kebab-case', `# id: Bad_Id\n# severity: info\n# message: m\n${agw}\nSELECT ?focus WHERE { ?focus a agw:Route }`, ':1:7: error: audit rule', 'needs a header line "# id: <kebab-case-id>" (found "Bad_Id"'],
    ['an empty severity (at the line\'s end)', `# id: x-rule\n#  severity:\n# message: m\n${agw}\nSELECT ?focus WHERE { ?focus a agw:Route }`, ':2:13: error: audit rule', 'needs "# severity: error|warning|info"\n'],
    ['the id of a built-in rule (at the id)', `#   id: route-without-timeout\n# severity: info\n# message: m\n${agw}\nSELECT ?focus WHERE { ?focus a agw:Route }`, ':1:9: error: audit rule', 'id "route-without-timeout" is already used by'],
  ])('%s is reported at the header\'s value (file:line:col), with what was found', async (_name, text, at, message) => {
    const dir = join(tempDir(), 'rules');
    mkdirSync(dir);
    writeFileSync(join(dir, 'x.rq'), text);
    const r = await gwgen(['audit', 'examples/metered-api.ttl', '--rules', dir]);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain(`${join(dir, 'x.rq')}${at}`);
    expect(r.stderr).toContain(message);
  });

  it('a rule file that is not UTF-8 is a broken rule file (exit 2) at its first such byte, not a rule that silently matches nothing', async () => {
    const dir = join(tempDir(), 'rules');
    mkdirSync(dir);
    const file = join(dir, 'x.rq');
    // "café" in Latin-1: read as U+FFFD, the string would never equal a name, and the rule would find nothing.
    writeFileSync(file, Buffer.concat([Buffer.from(`${meta}${agw}\nSELECT ?focus ?name WHERE { ?focus agw:serviceName ?name FILTER(?name != "caf`), Buffer.from([0xe9]), Buffer.from('") }\n')]));
    const r = await gwgen(['audit', 'examples/metered-api.ttl', '--rules', dir, '--fail-on', 'never']);
    expect(r.exitCode).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain(`${file}:6:78: error: audit rule ${file}: the file is not UTF-8 text: audit rule files are UTF-8\n  hint: convert the file to UTF-8`);
  });

  it('a directory named like a rule file and files of other kinds are not rules', async () => {
    const dir = join(tempDir(), 'rules');
    mkdirSync(dir);
    mkdirSync(join(dir, 'drafts.rq'));
    writeFileSync(join(dir, 'README.md'), '# id: not-a-rule\n');
    writeFileSync(join(dir, 'x.rq'), `${meta}${agw}\nSELECT ?focus ?name WHERE { ?focus agw:serviceName ?name }`);
    const r = await gwgen(['audit', 'examples/metered-api.ttl', '--rules', dir, '--format', 'json', '--fail-on', 'never']);
    expect(r.stderr).toBe('');
    expect(r.exitCode).toBe(0);
    const rules = new Set(JSON.parse(r.stdout).map((f: { rule: string }) => f.rule));
    expect(rules.has('x-rule')).toBe(true);
    expect(rules.has('not-a-rule')).toBe(false);
  });

  it('a --rules directory that adds no rule, or holds a query named .sparql or .RQ, is exit 2 naming it, not an audit that silently passes', async () => {
    // Before, both ran the built-in rules alone and exited 0, as if the directory's rules had found nothing.
    const empty = join(tempDir(), 'rules');
    mkdirSync(empty);
    mkdirSync(join(empty, 'drafts.rq'));
    writeFileSync(join(empty, 'README.md'), '# team rules\n');
    const none = await gwgen(['audit', 'test/fixtures/audit/clean.ttl', '--rules', empty, '--now', '2026-11-24']);
    expect(none.stdout).toBe('');
    expect(none.stderr).toContain(`${empty}: error: rules directory ${empty} holds no .rq rule file: it adds no rule to the audit\n  hint: put the .rq rule files in it, or leave out this --rules`);
    expect(none.exitCode).toBe(2);

    const named = join(tempDir(), 'rules');
    mkdirSync(named);
    const rule = `${meta}${agw}\nSELECT ?focus ?name WHERE { ?focus agw:serviceName ?name }`;
    writeFileSync(join(named, 'x.rq'), rule);
    writeFileSync(join(named, 'owner.sparql'), rule.replace('x-rule', 'owner-rule'));
    writeFileSync(join(named, 'IMAGE.RQ'), rule.replace('x-rule', 'image-rule'));
    const r = await gwgen(['audit', 'test/fixtures/audit/clean.ttl', '--rules', named, '--now', '2026-11-24']);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain(`${join(named, 'IMAGE.RQ')}: error: ${join(named, 'IMAGE.RQ')} is not read as an audit rule: a rule file's name ends in ".rq" (lower case)\n  hint: rename it, e.g. mv ${join(named, 'IMAGE.RQ')} ${join(named, 'IMAGE.rq')}`);
    expect(r.stderr).toContain(`${join(named, 'owner.sparql')} is not read as an audit rule`);
    expect(r.stderr).not.toContain('holds no .rq rule file');
    expect(r.exitCode).toBe(2);
  });

  it('a rules directory named twice (another spelling, a link, gwgen\'s own queries/audit) is read once, not a clash of each rule with itself', async () => {
    const dir = join(tempDir(), 'rules');
    mkdirSync(dir);
    writeFileSync(join(dir, 'x.rq'), `${meta}${agw}\nSELECT ?focus ?name WHERE { ?focus agw:serviceName ?name }`);
    symlinkSync(dir, `${dir}-link`);
    const r = await gwgen(['audit', 'examples/metered-api.ttl', '--rules', dir, '--rules', `${dir}/`, '--rules', `${dir}-link`, '--rules', join(ROOT, 'queries/audit'), '--format', 'json', '--fail-on', 'never']);
    expect(r.stderr).toBe('');
    expect(r.exitCode).toBe(0);
    const findings = JSON.parse(r.stdout) as Array<{ rule: string; focus: string }>;
    const own = findings.filter((f) => f.rule === 'x-rule');
    expect(own.length).toBeGreaterThan(0);
    expect(new Set(own.map((f) => f.focus)).size).toBe(own.length);
    expect(findings.filter((f) => f.rule === 'route-without-circuit-breaker')).toHaveLength(6);
  });

  it('the metadata is the comment block before the query: a comment inside the query does not change it', async () => {
    const dir = join(tempDir(), 'rules');
    mkdirSync(dir);
    writeFileSync(join(dir, 'x.rq'), `${meta}${agw}\nSELECT ?focus ?name WHERE {\n  # severity: error on prod only\n  # message: not this one\n  ?focus agw:serviceName ?name\n}`);
    const r = await gwgen(['audit', 'examples/metered-api.ttl', '--rules', dir, '--format', 'json']);
    expect(r.stderr).toBe('');
    const found = JSON.parse(r.stdout).filter((f: { rule: string }) => f.rule === 'x-rule');
    expect(found.length).toBeGreaterThan(0);
    expect(found[0]).toMatchObject({ severity: 'warning' });
    expect(found[0].message).toMatch(/^Service [a-z-]+ has no image$/);
  });

  it('a ?focus no statement has as its subject (a literal, a class) is located where the model mentions it, in SARIF too', async () => {
    const dir = tempDir();
    writeFileSync(
      join(dir, 'm.ttl'),
      [
        '@prefix agw: <https://ggen.ai/ontology/api-gateway#> .',
        '@prefix ex: <https://example.org/mention#> .',
        'ex:gw a agw:ApiGateway ; agw:gatewayName "mention" ; agw:hasRoute ex:r .',
        'ex:svc a agw:BackendService ; agw:serviceName "svc" ;',
        '  agw:hasHealthCheck [ a agw:HealthCheck ; agw:healthCheckPath "/h" ] .',
        'ex:r a agw:Route ; agw:routePath "/legacy" ; agw:hasBackendService ex:svc .',
      ].join('\n'),
    );
    mkdirSync(join(dir, 'rules'));
    const head = (id: string) => `# id: ${id}\n# severity: error\n# message: {?focus} is mentioned\nPREFIX agw: <https://ggen.ai/ontology/api-gateway#>\n`;
    writeFileSync(join(dir, 'rules', 'literal.rq'), `${head('legacy-path')}SELECT ?focus WHERE { ?r agw:routePath ?focus . FILTER(?focus = "/legacy") }`);
    writeFileSync(join(dir, 'rules', 'class.rq'), `${head('health-check-class')}SELECT DISTINCT ?focus WHERE { ?x a ?focus . FILTER(?focus = agw:HealthCheck) }`);
    const sarif = await gwgen(['audit', 'm.ttl', '--rules', 'rules', '--format', 'sarif', '--fail-on', 'never'], { cwd: dir });
    expect(sarif.exitCode, sarif.stderr).toBe(0);
    const results = JSON.parse(sarif.stdout).runs[0].results as Array<{ ruleId: string; locations: Array<{ physicalLocation?: { artifactLocation: { uri: string }; region: { startLine: number; startColumn?: number } } }> }>;
    for (const r of results) expect(r.locations[0]!.physicalLocation, r.ruleId).toBeDefined();
    const where = (rule: string) => {
      const at = results.find((r) => r.ruleId === rule)!.locations[0]!.physicalLocation!;
      return [at.artifactLocation.uri, at.region.startLine, at.region.startColumn];
    };
    expect(where('legacy-path')).toEqual(['m.ttl', 6, 1]);
    expect(where('health-check-class')).toEqual(['m.ttl', 5, 22]);
    const table = await gwgen(['audit', 'm.ttl', '--rules', 'rules', '--fail-on', 'never'], { cwd: dir });
    expect(table.stdout).toMatch(/legacy-path +m\.ttl:6:1 +\/legacy is mentioned/);
  });

  it('a variable the row leaves unbound (OPTIONAL) is shown as "(none)", not as its placeholder', async () => {
    const dir = join(tempDir(), 'rules');
    mkdirSync(dir);
    writeFileSync(join(dir, 'x.rq'), `# id: x-rule\n# severity: info\n# message: Service {?focus} runs image {?image}\n${agw}\nSELECT ?focus ?image WHERE { ?focus a agw:BackendService OPTIONAL { ?focus agw:image ?image } }`);
    const r = await gwgen(['audit', 'examples/metered-api.ttl', '--rules', dir, '--format', 'json', '--fail-on', 'never']);
    const messages = JSON.parse(r.stdout).filter((f: { rule: string }) => f.rule === 'x-rule').map((f: { message: string }) => f.message);
    expect(messages).toContain('Service geocoder runs image (none)');
    for (const m of messages) expect(m).not.toContain('{?');
  });

  it('a rule that does not parse is located at its line and column, CRLF and byte order mark or not', async () => {
    const dir = join(tempDir(), 'rules');
    mkdirSync(dir);
    const file = join(dir, 'x.rq');
    writeFileSync(file, `\uFEFF${meta}${agw}\nSELECT ?focus ?name\nWHERE {\n  ?focus agw:serviceName ?name ; ex:image ?i }\n`.replace(/\n/g, '\r\n'));
    const r = await gwgen(['audit', 'examples/metered-api.ttl', '--rules', dir]);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain(`${file}:8:34: error: audit rule ${file}: the SPARQL query does not parse: the prefix ex: is not declared`);
  });

  it('a rule with FROM or GRAPH, which would match nothing and so never find anything, is a broken rule file (exit 2) at that keyword', async () => {
    for (const [body, where, words] of [
      ['SELECT ?focus ?name\nFROM <urn:model>\nWHERE { ?focus agw:serviceName ?name }', '7:1', 'FROM (a dataset clause) is not supported'],
      ['SELECT ?focus ?name WHERE {\n  GRAPH ?g { ?focus agw:serviceName ?name } }', '7:3', 'GRAPH matches nothing here'],
    ] as const) {
      const dir = join(tempDir(), 'rules');
      mkdirSync(dir);
      const file = join(dir, 'x.rq');
      writeFileSync(file, `${meta}${agw}\n${body}\n`);
      const r = await gwgen(['audit', 'examples/metered-api.ttl', '--rules', dir, '--fail-on', 'never']);
      expect(r.stdout).toBe('');
      expect(r.stderr).toContain(`${file}:${where}: error: audit rule ${file}: ${words}`);
      expect(r.exitCode).toBe(2);
    }
  });

  it('--rules takes one directory and may be repeated; the model may follow it', async () => {
    const a = join(tempDir(), 'a');
    const b = join(tempDir(), 'b');
    mkdirSync(a);
    mkdirSync(b);
    writeFileSync(join(a, 'a.rq'), `${meta.replace('x-rule', 'rule-a')}${agw}\nSELECT ?focus ?name WHERE { ?focus agw:serviceName ?name }`);
    writeFileSync(join(b, 'b.rq'), `${meta.replace('x-rule', 'rule-b')}${agw}\nSELECT ?focus ?name WHERE { ?focus agw:serviceName ?name }`);
    const r = await gwgen(['audit', '--rules', a, '--rules', b, 'examples/metered-api.ttl', '--format', 'json', '--fail-on', 'never']);
    expect(r.stderr).toBe('');
    const rules = new Set(JSON.parse(r.stdout).map((f: { rule: string }) => f.rule));
    expect(rules.has('rule-a') && rules.has('rule-b')).toBe(true);
  });

  it.each([
    ['a file', (d: string) => join(d, 'rule.rq'), 'is a file, not a directory'],
    ['a missing directory', (d: string) => join(d, 'none'), 'rules directory not found'],
  ])('--rules naming %s is exit 2 saying so', async (_name, path, message) => {
    const dir = tempDir();
    writeFileSync(join(dir, 'rule.rq'), 'SELECT ?focus WHERE { ?focus a agw:Route }');
    const r = await gwgen(['audit', 'examples/metered-api.ttl', '--rules', path(dir)]);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain(message);
  });
});

describe('--now', () => {
  it.each([
    ['2027-01-01T00:00:00Z', '2027-01-01T00:00:00.000Z'],
    ['2027-01-01T09:30:00.5+02:00', '2027-01-01T07:30:00.500Z'],
    ['2027-01-01T00:00:00-05:30', '2027-01-01T05:30:00.000Z'],
    ['2027-01-01', '2027-01-01T00:00:00.000Z'],
    ['1', undefined],
    ['March 3 2026', undefined],
    ['2027-01-01T00:00:00', undefined],
    ['2027-01-01T00:00Z', undefined],
    ['2026-02-30', undefined],
    ['2026-02-28T24:00:00Z', undefined],
    ['2027-01-01T00:00:00+25:00', undefined],
    ['', undefined],
  ])('parseInstant(%j) is %s', (text, iso) => {
    expect(parseInstant(text)?.toISOString()).toBe(iso);
  });

  it.each([['1'], ['March 3 2026'], ['2027-01-01T00:00:00']])('--now %j is a usage error (exit 2)', async (value) => {
    const r = await gwgen(['audit', 'examples/metered-api.ttl', '--now', value]);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain(`--now ${JSON.stringify(value)} is not an ISO 8601 instant`);
  });

  it('a bare date is midnight UTC', async () => {
    const r = await gwgen(['audit', 'test/fixtures/audit/clean.ttl', '--now', '2027-06-15', '--format', 'json']);
    expect(JSON.parse(r.stdout).map((f: { rule: string }) => f.rule)).toEqual(['certificate-expiring']);
  });
});

describe('audit of IRIs and text a terminal must not take literally', () => {
  const prefixes = '@prefix agw: <https://ggen.ai/ontology/api-gateway#> .\n@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .\n';

  it('a node whose IRI is not ASCII (written as is, with \\u escapes, or under such a prefix) is located in table and SARIF', async () => {
    const dir = tempDir();
    writeFileSync(
      join(dir, 'intl.ttl'),
      prefixes +
        '@prefix ex: <https://example.org/straße#> .\n' +
        'ex:gw a agw:ApiGateway ; agw:gatewayName "intl" ; agw:hasRoute <https://example.org/café#ré> , <https://example.org/café#\\u00e9t\\u00e9> .\n' +
        '<https://example.org/café#ré> a agw:Route ; agw:routePath "/re" ; agw:hasBackendService ex:süd .\n' +
        '<https://example.org/café#\\u00e9t\\u00e9> a agw:Route ; agw:routePath "/ete" ; agw:hasBackendService ex:süd .\n' +
        'ex:süd a agw:BackendService ; agw:serviceName "sud" .\n',
    );
    const sarif = await gwgen(['audit', 'intl.ttl', '--format', 'sarif', '--fail-on', 'never'], { cwd: dir });
    expect(sarif.exitCode, sarif.stderr).toBe(0);
    const lineOf = Object.fromEntries(
      JSON.parse(sarif.stdout).runs[0].results.map((r: { locations: Array<{ physicalLocation?: { region: { startLine: number } }; logicalLocations: Array<{ fullyQualifiedName: string }> }> }) => [
        r.locations[0]!.logicalLocations[0]!.fullyQualifiedName,
        r.locations[0]!.physicalLocation?.region.startLine,
      ]),
    );
    expect(lineOf).toEqual({ 'https://example.org/café#ré': 5, 'https://example.org/café#été': 6, 'https://example.org/straße#süd': 7 });
    const table = await gwgen(['audit', 'intl.ttl', '--fail-on', 'never'], { cwd: dir });
    expect(table.stdout).toMatch(/public-route-without-rate-limit +intl\.ttl:5:1 +Route ré \(\/re\)/);
    expect(table.stdout).not.toContain('https://example.org/café#');
  });

  it('the table shows control characters and bidirectional overrides as \\uXXXX, one finding a line, in aligned columns', async () => {
    const dir = tempDir();
    writeFileSync(
      join(dir, 'm.ttl'),
      prefixes +
        '@prefix ex: <https://example.org/t#> .\n' +
        'ex:gw a agw:ApiGateway ; agw:gatewayName "t" ; agw:hasRoute <https://example.org/t#r\\u202Eevil> .\n' +
        '<https://example.org/t#r\\u202Eevil> a agw:Route ; agw:routePath "/r" ; agw:hasBackendService ex:s ;\n' +
        '  rdfs:label "bell\\u0007 esc\\u001b[2J\\nsecond line" .\n' +
        'ex:s a agw:BackendService ; agw:serviceName "s" .\n',
    );
    mkdirSync(join(dir, 'rules'));
    writeFileSync(join(dir, 'rules', 'labelled.rq'), '# id: labelled-route\n# severity: warning\n# message: Route {?focus} is labelled {?label}\nPREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>\nSELECT ?focus ?label WHERE { ?focus rdfs:label ?label }\n');
    const r = await gwgen(['audit', 'm.ttl', '--rules', 'rules', '--fail-on', 'never'], { cwd: dir });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).not.toMatch(/[\u0000-\u0009\u000B-\u001F\u007F\u202A-\u202E]/);
    expect(r.stdout).toContain('labelled-route                   m.ttl:5:1  Route r\\u202eevil is labelled bell\\u0007 esc\\u001b[2J second line\n');
    const rows = r.stdout.split('\n').filter((l) => l.startsWith('  '));
    expect(rows).toHaveLength(7);
    // The message starts in one column on every row, across the severity sections.
    expect(new Set(rows.map((l) => l.indexOf(' Route ') + l.indexOf(' Service ') + 1)).size).toBe(1);
    expect(r.stdout.trimEnd().split('\n').pop()).toBe('1 error, 5 warnings, 1 info, 0 suppressed');
  });
});

describe('examples of agw:auditSuppress in messages and docs', () => {
  // A hint that names a rule id that does not exist sends the user to an unknown-suppression finding.
  it('name rules that exist', () => {
    const ids = new Set(readdirSync(join(ROOT, 'queries/audit')).map((f) => f.replace(/\.rq$/, '')));
    const named = ['ontology/shapes.ttl', 'README.md', ...readdirSync(join(ROOT, 'examples')).filter((f) => f.endsWith('.ttl')).map((f) => `examples/${f}`)].flatMap((file) =>
      [...readFileSync(join(ROOT, file), 'utf8').matchAll(/agw:auditSuppress \\?"([a-z0-9-]+)/g)].map((m) => `${file}: ${m[1]}`),
    );
    expect(named.length).toBeGreaterThan(0);
    expect(named.filter((entry) => !ids.has(entry.split(': ')[1]!))).toEqual([]);
  });
});
