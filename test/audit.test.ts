import { copyFileSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
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
    const ids = [...rules, UNKNOWN_SUPPRESSION_RULE].map((r) => r.id).sort();
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

describe('retry-on-non-idempotent-method: which routes and methods', () => {
  // The rule's query is shaped for Comunica's planner; these cases pin what it means.
  const model = (methods: string, attempts: number) => `@prefix agw: <https://ggen.ai/ontology/api-gateway#> .
@prefix ex: <https://example.org/audit#> .
ex:gw a agw:ApiGateway ; agw:gatewayName "retry" ; agw:hasRoute ex:r .
ex:svc a agw:BackendService ; agw:serviceName "svc" .
ex:retry a agw:RetryPolicy ; agw:retryAttempts ${attempts} .
ex:r a agw:Route ; agw:routeName "r" ; agw:routePath "/r" ; agw:hasBackendService ex:svc ; agw:hasRetryPolicy ex:retry ${methods} .
`;
  it.each([
    // GROUP_CONCAT has no order in SPARQL: either order of the two methods is right.
    ['POST and PATCH, listed together', '; agw:httpMethod "GET", "PATCH", "POST"', 2, /^Route r \(\/r\) retries (PATCH, POST|POST, PATCH) requests, which may apply them twice\.$/],
    ['no method restriction = every method', '', 1, /^Route r \(\/r\) retries all \(incl\. POST, PATCH\) requests, which may apply them twice\.$/],
    ['only GET and PUT', '; agw:httpMethod "GET", "PUT"', 3, undefined],
    ['retryAttempts 0', '; agw:httpMethod "POST"', 0, undefined],
  ])('%s', async (_label, methods, attempts, message) => {
    const file = join(tempDir(), 'retry.ttl');
    writeFileSync(file, model(methods, attempts));
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
  });

  it('table groups by severity', async () => {
    const r = await gwgen(['audit', 'examples/mesh-shop.ttl']);
    expect(r.exitCode).toBe(1);
    expect(r.stdout).toMatch(/^error \(\d+\)\n/);
    expect(r.stdout.indexOf('warning (')).toBeGreaterThan(r.stdout.indexOf('error ('));
    expect(r.stdout).toMatch(/\d+ errors, \d+ warnings, \d+ info, \d+ suppressed$/);
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
    ['a query that does not parse', rule('broken', 'SELECT ?focus ?name WHERE { ?focus a agw:Route '), 'does not parse'],
    ['a missing severity', '# id: x\n# message: m\nSELECT ?focus WHERE { ?focus a <urn:x> }', 'severity'],
    ['no ?focus', rule('no-focus', 'SELECT ?name WHERE { ?s <urn:p> ?name }'), '?focus'],
    ['no ?focus in SELECT * (known once the query ran)', rule('no-focus', 'SELECT * WHERE { ?s agw:serviceName ?name }'), 'must select ?focus'],
    ['a duplicate id', rule('route-without-timeout', 'SELECT ?focus ?name WHERE { ?focus a agw:Route ; agw:routeName ?name }'), 'already used'],
    ['a placeholder the SELECT does not project', rule('unprojected', 'SELECT ?focus WHERE { ?focus a agw:BackendService ; agw:serviceName ?name }'), 'the message uses {?name}, but the query does not select ?name'],
    ['a placeholder SELECT * does not bind', rule('unprojected', 'SELECT * WHERE { ?focus a agw:BackendService }'), 'the message uses {?name}, but the query does not select ?name'],
    ['a placeholder bound only inside an expression', rule('unprojected', 'SELECT ?focus (STR(?name) AS ?label) WHERE { ?focus agw:serviceName ?name }'), 'does not select ?name'],
    ['an ASK query', rule('ask', 'ASK { ?focus a agw:BackendService }'), 'must be a SPARQL SELECT query (each row is a finding), not ASK'],
    ['an update', rule('update', 'DELETE WHERE { ?focus a agw:BackendService }'), 'must be a SPARQL SELECT query (each row is a finding), not an update'],
  ])('a broken rule file (%s) is an error naming the file', async (_name, text, message) => {
    const dir = join(tempDir(), 'rules');
    mkdirSync(dir);
    writeFileSync(join(dir, 'bad.rq'), text);
    const r = await gwgen(['audit', 'examples/metered-api.ttl', '--rules', dir]);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain(join(dir, 'bad.rq'));
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
