import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Backend, buildGateway, failedStart, startGateway, type GatewayProcess } from './gateway-helpers.js';
import { tempDir } from './helpers.js';

/**
 * The client address behind a trusted proxy (GW_TRUSTED_PROXIES) that writes the client's port
 * into X-Forwarded-For, as Azure Application Gateway and OpenShift's router do: the address is the
 * client's, for IP restriction and per-IP limits alike, not the proxy's.
 */

const MODEL = `
@prefix agw: <https://ggen.ai/ontology/api-gateway#> .
@prefix ex:  <https://example.org/client-address#> .

ex:gw a agw:ApiGateway ; agw:gatewayName "client-address" ; agw:hasRoute ex:inside .
ex:app a agw:BackendService ; agw:serviceName "app" .
ex:inside a agw:Route ; agw:routePath "/inside" ; agw:hasBackendService ex:app ;
    agw:hasIpRestriction ex:ranges ; agw:hasRateLimiter ex:per-ip .
ex:ranges a agw:IpRestriction ;
    agw:allowCidr "127.0.0.0/8" , "10.0.0.0/8" , "2001:db8::/32" ;
    agw:denyCidr "10.9.0.0/16" , "2001:db8:bad::/48" .
ex:per-ip a agw:RateLimiter ; agw:requestsPerMinute 1 ; agw:limitBy "ip" .
`;

describe('generated gateway: the client address behind a trusted proxy (GW_TRUSTED_PROXIES)', () => {
  let gw: GatewayProcess | undefined;
  let dir = '';
  const app = new Backend('app');

  beforeAll(async () => {
    const models = tempDir('gwgen-client-address-');
    writeFileSync(join(models, 'model.ttl'), MODEL);
    ({ dir } = await buildGateway(join(models, 'model.ttl')));
    await app.listen();
    gw = await startGateway(dir, { GW_UPSTREAM_APP: app.url, GW_TRUSTED_PROXIES: '127.0.0.1/32' });
  });
  afterAll(async () => {
    await gw?.stop('SIGKILL');
    await app.stop();
  });

  const from = async (xff: string) => {
    const res = await fetch(`${gw!.url}/inside`, { headers: { 'x-forwarded-for': xff } });
    const body = await res.text();
    return { status: res.status, forwarded: res.status === 200 ? (JSON.parse(body) as { headers: Record<string, string> }).headers['x-forwarded-for'] : undefined };
  };

  it("refuses a denied client whose address the proxy wrote with a port, rather than taking the proxy's address", async () => {
    expect((await from('10.9.1.1:4444')).status).toBe(403);
    expect((await from('[2001:db8:bad::1]:443')).status).toBe(403);
    // Past the proxy, a hop with a port is the client too: the spoofed left part changes nothing.
    expect((await from('10.1.1.1, 10.9.1.2:80')).status).toBe(403);
  });

  it('counts a client behind such a proxy in its own per-IP budget, whatever its port, and forwards the header as it came', async () => {
    expect(await from('10.1.2.3:50000')).toEqual({ status: 200, forwarded: '10.1.2.3:50000, 127.0.0.1' });
    // Another connection of the same client: another port, the same budget (1 a minute).
    expect((await from('10.1.2.3:50001')).status).toBe(429);
    expect((await from('10.1.2.4:50000')).status).toBe(200);
    expect((await from('[2001:db8::5]:50000')).status).toBe(200);
    expect((await from('[2001:db8::5]')).status).toBe(429);
  });

  it('stops the start on a GW_TRUSTED_PROXIES entry that is no address or CIDR, naming the variable and the entry', () => {
    for (const entry of ['proxy.internal', '10.0.0.0/33', '2001:db8::/129', '10.0.0.0/8/8', '10.0.0.0/']) {
      const r = failedStart(dir, { GW_UPSTREAM_APP: app.url, GW_TRUSTED_PROXIES: `127.0.0.1/32, ${entry}` });
      expect(r.status, entry).toBe(1);
      const lines = r.stderr.trim().split('\n').map((l) => JSON.parse(l) as { message: string; detail?: string });
      const failure = lines.find((l) => l.message === 'failed to start');
      expect(failure?.detail, entry).toContain(`GW_TRUSTED_PROXIES: ${JSON.stringify(entry)} is not an address or CIDR`);
    }
  });
});
