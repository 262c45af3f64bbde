import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { generate } from '../dist/index.js';
import { ROOT } from './helpers.js';
import { gatewayChooser, kongChooser, kongEscape, kongNormalize, show } from './route-choice.js';

/**
 * Kong 3 routes a request by its path after kong/tools/uri.lua `normalize`, which decodes the
 * escape of every character but the reserved ones (RFC 3986 gen-delims and sub-delims, and "%"),
 * where the gateway and Envoy decode only unreserved characters. A regex path that keeps the
 * model's `%C3%A9` or `%20` never matches in Kong: the literal segments are written decoded.
 * The model is test/fixtures/valid/kong-path-escapes.ttl (valid-models.test.ts also runs the
 * output checks over it, which compare Kong's route choice with the gateway's).
 */
const MODEL = 'test/fixtures/valid/kong-path-escapes.ttl';

describe("Kong's path normalization", () => {
  it('kongNormalize and kongEscape read a path as kong/tools/uri.lua does', () => {
    expect(kongNormalize('/caf%C3%A9/%c3%bc/a%20b/x%2fy/%3A%40%25')).toBe('/café/ü/a b/x%2Fy/%3A%40%25');
    expect(kongNormalize('/a//b/./c/../d')).toBe('/a/b/d');
    expect(kongNormalize('/caf%E9')).toBeUndefined();
    expect(kongEscape('/café/a b/x%2Fy/~_.-')).toBe('/caf%C3%A9/a%20b/x%2Fy/~_.-');
  });

  it("writes literal segments in Kong's normal form, and lists the route whose escapes are not UTF-8", async () => {
    const result = await generate({ models: [MODEL], targets: ['kong', 'gateway'], cwd: ROOT });
    if (!result.ok) throw new Error(JSON.stringify(result.problems));
    const file = (path: string) => result.files.find((f) => f.path === path)!.content;
    const doc = parse(file('kong/kong.yml')) as { services: { routes: { name: string; paths: string[] }[] }[] };
    const paths = Object.fromEntries(doc.services.flatMap((s) => s.routes).map((r) => [r.name, r.paths[0]]));
    expect(paths).toMatchObject({
      cafe: '~/café(?:/|$)',
      'cafe-item': '~/café/(?<id>[^/]+)/日本(?:/|$)',
      space: '~/a b/"q"/\\{x\\}(?:/|$)',
      reserved: '~/x%2Fy/%3Aid%40%25/a%2Bb(?:/|$)',
      mixed: '~/🚀%2Fé /(?<id>[^/]+)(?:/|$)',
      control: '~/ctl\\x01\\x7f(?:/|$)',
      lower: '~/ü\\^(?:/|$)',
    });
    const notes = file('kong/NOTES.md');
    expect(notes).toMatch(/## agw:routePath with escapes that are not UTF-8\n\n[^\n]*"caf%E9"/);
    expect(notes).not.toMatch(/escapes of [^\n]*"caf%C3%A9"/);

    // Requests as a client sends them, in any case of hex digits: Kong takes each to the gateway's route and sends the same path.
    const files = Object.fromEntries(result.files.map((f) => [f.path, f.content]));
    const gateway = await gatewayChooser(files);
    const kong = kongChooser(files['kong/kong.yml']!);
    const requests = ['/caf%C3%A9', '/caf%c3%a9/tail%20x', '/caf%C3%A9/7/%E6%97%A5%E6%9C%AC', '/a%20b/%22q%22/%7Bx%7D', '/x%2Fy/%3Aid%40%25/a%2Bb', '/%F0%9F%9A%80%2F%C3%A9%20/1', '/ctl%01%7F', '/%C3%BC%5E/z'];
    for (const path of requests) {
      const g = gateway({ method: 'GET', path: path.replace(/%[0-9a-f]{2}/gi, (e) => e.toUpperCase()), headers: {} });
      expect(g.route, path).toBeDefined();
      expect(show(kong({ method: 'GET', path, headers: {} })), path).toBe(show(g));
    }
    expect(kong({ method: 'GET', path: '/caf%E9', headers: {} }).status).toBe(404);
  });
});
