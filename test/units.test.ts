import { describe, expect, it } from 'vitest';
import * as formats from '../dist/model/formats.js';
import { durationSeconds } from '../dist/model/duration.js';
import { kongPath, vaultRef } from '../dist/targets/kong.js';
import { kebabLocalName } from '../dist/pipeline/rdf.js';
import { compareTerms, EXTRACTION_QUERIES, groupExtraction } from '../dist/pipeline/extract.js';
import { DataFactory, Parser, Store, type Term } from 'n3';
import { definedTerms, propertyDomains } from '../dist/pipeline/vocabulary.js';
import { AGW, ONTOLOGY_DIR, RDF, RDFS } from '../dist/paths.js';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, sep } from 'node:path';
import { TEMPLATES_DIR } from '../dist/paths.js';
import { sha256 } from '../dist/pipeline/write.js';
import { schemaHash } from '../dist/model/schema.js';
import { requireWithCodeCache } from '../dist/sparql/code-cache.js';
import { decodeCells, encodeCells } from '../dist/sparql/term-cells.js';
import { keepQueryWorker } from '../dist/sparql/worker-client.js';
import { toTable } from '../dist/sparql/results.js';
import { queryShape } from '../dist/sparql/scan.js';
import { markdownText, yamlEntries } from '../dist/pipeline/helpers.js';
import { compareSpecificity, moreSpecificMeeting, pathsMeet } from '../dist/targets/mesh-common.js';
import { parse as parseYaml } from 'yaml';

type Case = [string, boolean];

const table: Record<string, { check: (v: string) => string | undefined; cases: Case[] }> = {
  dnsLabel: { check: formats.dnsLabel, cases: [['orders', true], ['a', true], ['orders-v2', true], ['Orders', false], ['-a', false], ['a-', false], ['a_b', false], ['a'.repeat(63), true], ['a'.repeat(64), false], ['', false]] },
  urlPath: {
    check: formats.urlPath,
    cases: [['/', true], ['/api/orders', true], ['/api/orders/{id}', true], ['/a/{id}/b/{x_y}', true], ['/v1.2/~user', true], ['/%20', true], ['api', false], ['/a b', false], ['/a"b', false], ["/a'b", false], ['/a\nb', false], ['/a/../b', false], ['/a/./b', false], ['/a//b', false], ['/a?x=1', false], ['/a#f', false], ['/a/{id', false], ['/a/x{id}', false], ['/a/{id}/{id}', false], ['/a/{1x}', false], ['/%zz', false], ['/a\\b', false], ['/a/%2e%2E/b', false], ['/a/%2E', false], ['/files/a%2fb', true], ['/v1;api/status', true]],
  },
  cidr: { check: formats.cidr, cases: [['10.0.0.0/8', true], ['192.168.1.1', true], ['2001:db8::/32', true], ['::1/128', true], ['10.0.0.0/33', false], ['10.0.0.300/8', false], ['2001:db8::/129', false], ['10.0.0.0/8/8', false], ['ten/8', false], ['10.0.0.0/', false], ['::ffff:10.0.0.0/104', true], ['64:ff9b::192.0.2.33/128', true], ['1:2:3:4:5:6:1.2.3.4/128', true], ['::ffff:10.0.0.300/104', false], ['::ffff:10.0.0.0/129', false], ['fe80::1%eth0/64', false], ['10.0.0.0/08', false]] },
  origin: { check: formats.origin, cases: [['*', true], ['https://app.example.com', true], ['http://localhost:3000', true], ['https://app.example.com/', false], ['https://app.example.com/path', false], ['ftp://x.org', false], ['app.example.com', false], ['null', false]] },
  httpUrl: { check: formats.httpUrl, cases: [['https://a.example.com/jwks.json', true], ['http://otel:4318', true], ['javascript:alert(1)', false], ['https://a b', false], ['/relative', false], ['https://"x"', false]] },
  envVarName: { check: formats.envVarName, cases: [['JWT_SECRET', true], ['_X1', true], ['1X', false], ['lower', false], ['A-B', false], ['A B', false], ['', false]] },
  secretEnvName: {
    check: formats.secretEnvName,
    cases: [['JWT_SECRET', true], ['PORTAL_KEY', true], ['MY_GW_KEY', true], ['HOSTED_KEY', true], ['lower', false], ['PORT', false], ['HOST', false], ['GWGEN_CONFIG', false], ['REDIS_URL', false], ['GW_UPSTREAM_ORDERS', false], ['GW_TRUSTED_PROXIES', false], ['OTEL_TRACES_SAMPLER', false], ['GW_JWT_SECRET', true], ['GW_UPSTREAM', true]],
  },
  headerName: { check: formats.headerName, cases: [['X-API-Key', true], ['x-canary', true], ['Bad Header', false], ['a:b', false], ["x'", false], ['', false]] },
};

describe.each(Object.entries(table))('format %s', (_name, { check, cases }) => {
  it.each(cases)('%j → valid %s', (value, valid) => {
    expect(check(value) === undefined).toBe(valid);
  });
});

describe('normalPath: the spelling of a path the gateway routes by (RFC 3986 §6.2.2)', () => {
  it.each([
    ['/a%2fb', '/a%2Fb'],
    ['/%61dmin/%7euser', '/admin/~user'],
    ['/a%20b/%5c', '/a%20b/%5C'],
    ['/plain/path', '/plain/path'],
  ])('%s → %s', (path, normal) => expect(formats.normalPath(path)).toBe(normal));
});

describe("the gateway's own settings, which no secret may name", () => {
  it('lists every variable the gateway templates read and the Kubernetes target sets', () => {
    const dir = join(TEMPLATES_DIR, 'gateway', 'src');
    const read = new Set<string>();
    const sources = [
      ...readdirSync(dir).map((f) => readFileSync(join(dir, f), 'utf8')),
      readFileSync(new URL('../src/targets/k8s.ts', import.meta.url), 'utf8'),
    ];
    for (const text of sources) {
      // env.X, env['X'], the env.ts readers int('X' / ms('X', and the Deployment's { name: 'X' }.
      for (const m of text.matchAll(/\benv(?:\.|\[')([A-Z][A-Z0-9_]*)|\b(?:int|ms|str|bool)\('([A-Z][A-Z0-9_]*)'|\{ name: '([A-Z][A-Z0-9_]*)'/g))
        read.add((m[1] ?? m[2] ?? m[3])!);
      for (const m of text.matchAll(/\b(GW_[A-Z0-9_]*[A-Z0-9])\b/g)) read.add(m[1]!);
    }
    expect(read.size).toBeGreaterThan(15);
    const unlisted = [...read].filter((v) => formats.secretEnvName(v) === undefined);
    expect(unlisted).toEqual([]);
  });
});

describe('IPv4-mapped CIDRs', () => {
  it.each([
    ['::ffff:10.0.0.0/104', '10.0.0.0/8'],
    ['::FFFF:192.168.1.0/120', '192.168.1.0/24'],
    ['0:0:0:0:0:ffff:a01:203/128', '10.1.2.3/32'],
    ['::ffff:0.0.0.0/96', '0.0.0.0/0'],
    ['::ffff:127.0.0.1', '127.0.0.1'],
    // A shorter prefix reaches beyond the mapped addresses: an IPv6 range, as written.
    ['::ffff:0:0/80', '::ffff:0:0/80'],
    ['64:ff9b::192.0.2.33/128', '64:ff9b::192.0.2.33/128'],
    ['2001:db8::/32', '2001:db8::/32'],
    ['10.0.0.0/8', '10.0.0.0/8'],
  ] as const)('%s → %s', (cidr, expected) => expect(formats.mappedCidrAsIpv4(cidr)).toBe(expected));
});

describe('xsd:duration', () => {
  it.each([
    ['PT10S', 10],
    ['PT1M30S', 90],
    ['PT1.5S', 1.5],
    ['P1D', 86400],
    ['P30D', 2592000],
    ['P1W', 604800],
    ['PT2H', 7200],
    ['P', undefined],
    ['PT', undefined],
    ['10s', undefined],
  ] as const)('%s = %s s', (text, seconds) => expect(durationSeconds(text)).toBe(seconds));
});

describe('kong paths', () => {
  it.each([
    ['/api/orders', '~/api/orders(?:/|$)'],
    ['/api/orders/{id}', '~/api/orders/(?<id>[^/]+)(?:/|$)'],
    ['/v1.2/{a}/x', '~/v1\\.2/(?<a>[^/]+)/x(?:/|$)'],
    ['/docs/', '~/docs(?:/|$)'],
    ['/', '~/'],
  ])('%s → %s', (path, expected) => expect(kongPath(path)).toBe(expected));

  it('vault references follow Kong env vault naming', () => expect(vaultRef('ACME_API_KEY')).toBe('{vault://env/acme-api-key}'));
});

describe('default names', () => {
  it.each([
    ['https://x.org/m#OrdersRoute', 'orders-route'],
    ['https://x.org/m#orders_route', 'orders-route'],
    ['https://x.org/routes/APIGateway', 'api-gateway'],
    ['urn:x:route1', 'route1'],
    ['https://x.org/r/Get%20Users', 'get-users'],
    ['https://x.org/r#ÄpfelRoute', 'apfel-route'],
    ['https://x.org/r/caf%C3%A9', 'cafe'],
    ['https://x.org/r/100%', '100'],
    // No ASCII form: kept, so validation asks for an explicit name instead of one missing letters.
    ['https://x.org/r#Straße', 'straße'],
    ['https://x.org/routes/', ''],
  ])('%s → %s', (iri, name) => expect(kebabLocalName(iri)).toBe(name));
});

describe('extraction value order', () => {
  const lit = (value: string) => DataFactory.literal(value);
  it.each([
    ['numbers by value', [lit('10'), lit('9'), lit('-1.5')], ['-1.5', '9', '10']],
    ['strings by code point', [lit('b'), lit('B'), lit('a')], ['B', 'a', 'b']],
    ['blank nodes, IRIs, then literals', [lit('x'), DataFactory.namedNode('urn:a'), DataFactory.blankNode('b0')], ['b0', 'urn:a', 'x']],
  ])('%s', (_label, terms, expected) => {
    expect([...terms].sort(compareTerms).map((t) => t.value)).toEqual(expected);
  });
});

describe('extraction rows', () => {
  // The queries select every property of a node; only agw: properties and rdf:type are read.
  it('reads agw: properties and rdf:type by local name and drops other vocabularies', () => {
    const { namedNode, literal } = DataFactory;
    const route = namedNode('https://example.org/m#r1');
    const row = (property: string, value: ReturnType<typeof literal> | ReturnType<typeof namedNode>) => ({ route, property: namedNode(property), value });
    const empty = { outcome: { kind: 'bindings' as const, variables: ['node', 'property', 'value'], rows: [] } };
    const results = new Map<string, typeof empty>(EXTRACTION_QUERIES.map((q) => [q, empty]));
    results.set('routes', {
      outcome: {
        kind: 'bindings',
        variables: ['route', 'property', 'value'],
        rows: [
          row('http://www.w3.org/1999/02/22-rdf-syntax-ns#type', namedNode('https://ggen.ai/ontology/api-gateway#Route')),
          row('https://ggen.ai/ontology/api-gateway#routePath', literal('/real')),
          row('https://example.org/other#routePath', literal('/not-this-one')),
          row('http://www.w3.org/2000/01/rdf-schema#label', literal('a label')),
        ] as never[],
      },
    });
    const bag = groupExtraction(results as never).routes.get(route.value);
    expect(bag && Object.fromEntries([...bag].map(([k, v]) => [k, v.map((t) => t.value)]))).toEqual({
      type: ['https://ggen.ai/ontology/api-gateway#Route'],
      routePath: ['/real'],
    });
  });
});

describe('code cache of a CommonJS file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gwgen-cc-'));
  const file = join(dir, 'lib.cjs');
  const source = (n: number) => `exports.answer = function answer() { return ${n}; };\nexports.dir = __dirname;\n`;

  it('is written after the first load and used by the next, with the same exports', () => {
    writeFileSync(file, source(41));
    const first = requireWithCodeCache<{ answer: () => number; dir: string }>(file);
    expect(first.cacheUsed).toBe(false);
    expect(first.exports.answer()).toBe(41);
    expect(first.exports.dir).toBe(dir);
    first.saveCache();
    expect(existsSync(`${file}.v8cache`)).toBe(true);
    const second = requireWithCodeCache<{ answer: () => number }>(file);
    expect(second.cacheUsed).toBe(true);
    expect(second.exports.answer()).toBe(41);
  });

  it('ignores a cache made for another version of the file, even one of the same length', () => {
    writeFileSync(file, source(42));
    utimesSync(file, new Date(), new Date(Date.now() + 5000));
    const changed = requireWithCodeCache<{ answer: () => number }>(file);
    expect(changed.cacheUsed).toBe(false);
    expect(changed.exports.answer()).toBe(42);
  });

  it('ignores a damaged cache and works without one where it cannot write', () => {
    writeFileSync(`${file}.v8cache`, 'gwgen-v8cache garbage');
    const loaded = requireWithCodeCache<{ answer: () => number }>(file);
    expect(loaded.cacheUsed).toBe(false);
    expect(loaded.exports.answer()).toBe(42);
    rmSync(`${file}.v8cache`);
    mkdirSync(`${file}.v8cache`); // a directory where the cache file should go: the rename fails
    expect(() => loaded.saveCache()).not.toThrow();
    expect(readdirSync(dir).sort()).toEqual(['lib.cjs', 'lib.cjs.v8cache']);
  });
});

describe('query rows across the worker boundary', () => {
  const { namedNode, blankNode, literal } = DataFactory;
  it('keep every term kind, datatype and language, unbound variables and rows without variables', () => {
    const variables = ['s', 'o', 'x'];
    const rows: Record<string, Term>[] = [
      { s: namedNode('https://example.org/a#r1'), o: literal('line\nwith \u0000 NUL, "quotes"', 'en-GB') },
      { s: blankNode('b0_n3-7'), o: literal('12.5', namedNode('http://www.w3.org/2001/XMLSchema#decimal')), x: literal('') },
    ];
    const decoded = decodeCells(variables, encodeCells(variables, rows), rows.length);
    expect(decoded).toEqual([
      { s: { termType: 'NamedNode', value: 'https://example.org/a#r1' }, o: { termType: 'Literal', value: 'line\nwith \u0000 NUL, "quotes"', datatype: 'http://www.w3.org/1999/02/22-rdf-syntax-ns#langString', language: 'en-gb' } },
      {
        s: { termType: 'BlankNode', value: 'b0_n3-7' },
        o: { termType: 'Literal', value: '12.5', datatype: 'http://www.w3.org/2001/XMLSchema#decimal', language: '' },
        x: { termType: 'Literal', value: '', datatype: 'http://www.w3.org/2001/XMLSchema#string', language: '' },
      },
    ]);
    expect(decodeCells([], encodeCells([], [{}, {}]), 2)).toEqual([{}, {}]);
  });
});

describe('a query worker kept across runs (gwgen watch)', () => {
  const model = (name: string) => [{ path: 'm.ttl', text: `@prefix agw: <https://ggen.ai/ontology/api-gateway#> .\n<urn:x:g> a agw:ApiGateway ; agw:gatewayName "${name}" .\n` }];
  const query = [{ id: 'q', text: 'SELECT ?n WHERE { ?g agw:gatewayName ?n } ORDER BY ?n', origin: 'test' }];
  const names = async (pending: { result: Promise<ReadonlyMap<string, { outcome?: unknown }>> }) => {
    const outcome = (await pending.result).get('q')?.outcome as { rows: Array<{ n: { value: string } }> };
    return outcome.rows.map((r) => r.n.value);
  };
  it('answers run after run, each with its own model, goes on after a cancelled run, and refuses runs once closed', async () => {
    const worker = keepQueryWorker();
    try {
      const thread = worker.threadId;
      expect(await names(worker.run(model('first'), query, {}))).toEqual(['first']);
      const timings: Record<string, number> = {};
      expect(await names(worker.run(model('second'), query, timings))).toEqual(['second']);
      expect(timings['worker.queries']).toBeGreaterThan(0);
      expect(worker.threadId).toBe(thread);
      // The model turned out invalid: nobody reads this run; the next one still gets its answer.
      worker.run(model('dropped'), query, {}).cancel();
      expect(worker.threadId).not.toBe(thread);
      expect(await names(worker.run(model('third'), query, {}))).toEqual(['third']);
    } finally {
      await worker.close();
    }
    expect(() => worker.run(model('late'), query, {})).toThrow('closed');
  });
});

describe('what the build compiles ahead of time', () => {
  it('holds every template of templates/ with the hash of its current source', async () => {
    const { TEMPLATES } = (await import(new URL('../dist/vendor/templates.js', import.meta.url).href)) as { TEMPLATES: Record<string, { hash: string }> };
    const names = readdirSync(TEMPLATES_DIR, { recursive: true, encoding: 'utf8' })
      .filter((n) => n.endsWith('.hbs'))
      .map((n) => n.split(sep).join('/'))
      .sort();
    expect(Object.keys(TEMPLATES).sort()).toEqual(names);
    for (const name of names) expect(TEMPLATES[name]!.hash, name).toBe(sha256(readFileSync(join(TEMPLATES_DIR, name), 'utf8')));
  });

  it('holds the validator of the current model schema, which rejects what ajv rejects', async () => {
    const built = (await import(new URL('../dist/vendor/model-validator.cjs', import.meta.url).href)) as { default: ((m: unknown) => boolean) & { SCHEMA_HASH: string; errors?: unknown[] } };
    expect(built.default.SCHEMA_HASH).toBe(schemaHash());
    expect(built.default({ gateway: { id: 'g', name: 'Bad Name', listenPort: 8080 }, routes: [], services: [], consumers: [] })).toBe(false);
    expect(built.default.errors?.length).toBeGreaterThan(0);
  });
});

describe('the vocabulary the unknown-term check knows', () => {
  it('is every agw: subject of the ontology, as a Turtle parse finds them', () => {
    const quads = new Parser().parse(readFileSync(join(ONTOLOGY_DIR, 'api-gateway.ttl'), 'utf8'));
    const parsed = new Set(quads.filter((q) => q.subject.value.startsWith(AGW)).map((q) => q.subject.value.slice(AGW.length)));
    expect([...definedTerms()].sort()).toEqual([...parsed].sort());
    expect(parsed.size).toBeGreaterThan(100);
  });

  it('knows the domain of every agw: property as a Turtle parse finds it (one class, or a union)', () => {
    const store = new Store(new Parser().parse(readFileSync(join(ONTOLOGY_DIR, 'api-gateway.ttl'), 'utf8')));
    const node = (iri: string) => DataFactory.namedNode(iri);
    const listItems = (head: Term): string[] => {
      const out: string[] = [];
      for (let at = head; at.value !== `${RDF}nil`; at = store.getObjects(at, node(`${RDF}rest`), null)[0]!) out.push(store.getObjects(at, node(`${RDF}first`), null)[0]!.value);
      return out;
    };
    const parsed = new Map<string, string[]>();
    for (const q of store.getQuads(null, node(`${RDFS}domain`), null, null)) {
      if (!q.subject.value.startsWith(AGW)) continue;
      const union = store.getObjects(q.object, node('http://www.w3.org/2002/07/owl#unionOf'), null)[0];
      const classes = union ? listItems(union) : [q.object.value];
      if (classes.every((c) => c.startsWith(AGW))) parsed.set(q.subject.value.slice(AGW.length), classes.map((c) => c.slice(AGW.length)));
    }
    expect(new Map([...propertyDomains()].map(([p, c]) => [p, [...c]]))).toEqual(parsed);
    expect(parsed.get('timeoutSeconds')).toEqual(['Route', 'CircuitBreaker', 'Timeout']);
    expect(parsed.size).toBeGreaterThan(60);
  });
});

describe('query --format table: columns in terminal cells', () => {
  const lit = (v: string) => DataFactory.literal(v);
  // Each: the ?name values, then the expected table lines (a CJK character or an emoji is two cells, a combining mark none).
  it.each([
    ['CJK', ['注文', 'ab'], ['?name  ?n', '-----  --', '注文   0', 'ab     1']],
    ['emoji', ['🙂🙂x', 'a'], ['?name  ?n', '-----  --', '🙂🙂x  0', 'a      1']],
    ['a combining accent', ['cafe\u0301', 'caf'], ['?name  ?n', '-----  --', 'cafe\u0301   0', 'caf    1']],
    ['wide cells set the width', ['日本語テキスト', 'x'], ['?name           ?n', '--------------  --', '日本語テキスト  0', 'x               1']],
  ])('%s', (_name, names, lines) => {
    const rows = names.map((n, i) => ({ name: lit(n), n: lit(String(i)) }));
    expect(toTable({ kind: 'bindings', variables: ['name', 'n'], rows }, (iri) => iri)).toBe(`${lines.join('\n')}\n${rows.length} rows\n`);
  });
});

describe('the SPARQL scanner: a query\'s form and SELECT list', () => {
  // Each: the query text, its form, what its SELECT projects.
  it.each([
    ['SELECT ?focus ?name WHERE { ?focus ?p ?name }', 'select', ['focus', 'name']],
    ['PREFIX agw: <https://ggen.ai/ontology/api-gateway#> SELECT ?focus WHERE { ?focus a agw:Route }', 'select', ['focus']],
    ['# SELECT ?not\nBASE <http://x/#> PREFIX : <#> SELECT DISTINCT ?a (STR(?b) AS ?c) { ?a :p ?b }', 'select', ['a', 'c']],
    ['SELECT * WHERE { ?focus a <urn:x> }', 'select', '*'],
    ['SELECT REDUCED ?x FROM <urn:g> WHERE { ?x ?p "a # b" }', 'select', ['x']],
    ['select (count(*) as ?n) ?g where { ?g ?p ?o } group by ?g', 'select', ['n', 'g']],
    ['\uFEFFSELECT ?x\r\nWHERE { ?x ?p """ ?y\n""" }', 'select', ['x']],
    ['ASK { ?s ?p ?o }', 'ask', undefined],
    ['PREFIX a: <urn:a#> CONSTRUCT WHERE { ?s ?p ?o }', 'construct', undefined],
    ['LOAD <http://127.0.0.1:9/x>', 'update', undefined],
    ['WITH <urn:g> DELETE { ?s ?p ?o } WHERE { ?s ?p ?o }', 'update', undefined],
    ['# only a comment', undefined, undefined],
  ])('%j', (text, form, projection) => {
    expect(queryShape(text)).toEqual({ ...(form ? { form } : {}), ...(projection ? { projection } : {}) });
  });
});

describe('yamlEntries: a block mapping of config entries', () => {
  const hostile = 'a: b\n- c # d ${{ x }} "\'\u2028';
  const entries = [
    { key: 'origins', list: ['https://app.example.com', hostile] },
    { key: hostile, value: hostile },
    { key: 'n', value: 3 },
    { key: 'on', value: true },
    { key: 'add', object: [{ key: 'headers', list: [`Allow:${'GET, '.repeat(40)}POST`, 'x'] }, { key: 'deep', object: [{ key: 'k', value: 'yes' }] }] },
    { key: 'empty', list: [] },
  ];
  const expected = { origins: ['https://app.example.com', hostile], [hostile]: hostile, n: 3, on: true, add: { headers: [`Allow:${'GET, '.repeat(40)}POST`, 'x'], deep: { k: 'yes' } }, empty: [] };

  it.each([
    [0, 0],
    [10, 6],
  ])('reads back as the same data at column %i inside a partial at column %i', (at, base) => {
    // As a partial at column `base` writes it: Handlebars indents every line but the first by `base`.
    const text = yamlEntries(entries, at, base).split('\n').map((line, i) => (i === 0 ? ' '.repeat(at) : ' '.repeat(base)) + line).join('\n');
    for (const version of ['1.1', '1.2'] as const) expect(parseYaml(`${text}\n`, { version })).toEqual(expected);
  });

  it('refuses an entry without a value', () => {
    expect(() => yamlEntries([{ key: 'k' }], 0)).toThrow(/"k" has no value/);
  });
});

describe('moreSpecificMeeting: the routes a header-ranked Kong route takes requests from', () => {
  // Paths from a small alphabet, so that many of them meet: literals, parameters, empty segments, "/".
  const SEGMENTS = ['a', 'b', '{id}', '{x}', ''];
  let seed = 7;
  const random = (n: number) => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % n;
  };
  const paths = Array.from({ length: 300 }, () => `/${Array.from({ length: random(5) }, () => SEGMENTS[random(SEGMENTS.length)]).join('/')}`);
  const routes = paths.map((path, i) => ({ name: `r${i}`, path })) as unknown as Parameters<typeof moreSpecificMeeting>[0];

  it('answers what comparing every pair answers, in the order of the routes', () => {
    const overreached = moreSpecificMeeting(routes);
    let pairs = 0;
    for (const route of routes) {
      const expected = routes.filter((o) => compareSpecificity(o.path, route.path) < 0 && pathsMeet(o.path, route.path));
      pairs += expected.length;
      expect(overreached(route.path).map((r) => r.name), route.path).toEqual(expected.map((r) => r.name));
    }
    // The check is not vacuous: many paths meet more specific ones.
    expect(pairs).toBeGreaterThan(1000);
  });
});

describe('markdownText: plain text is left as it is', () => {
  it('the shortcut for plain text answers what the full escaping does', () => {
    // An object reaches markdownText's full path (String(value) and every replace).
    const full = (text: string) => markdownText({ toString: () => text });
    const ALPHABET = 'aZ09 ,.;:\'"()/{}!?%=+$#~-_*`[]|<>&@\\\nwW:/';
    let seed = 11;
    const random = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    let plain = 0;
    for (let i = 0; i < 20_000; i++) {
      const text = Array.from({ length: 1 + random(12) }, () => ALPHABET[random(ALPHABET.length)]).join('');
      if (markdownText(text) === text) plain++;
      expect(markdownText(text), JSON.stringify(text)).toBe(full(text));
    }
    for (const text of ['route a (over route b)', 'see https://x.org', 'www.example.com', 'a  b', 'a ', '1. x', '# x', 'a # b', 'x_y', 'a@b']) expect(markdownText(text), text).toBe(full(text));
    expect(plain).toBeGreaterThan(100);
  });
});
