// A synthetic gwgen model of N routes that uses every feature, for the benchmarks.
// Services are shared (min(N/10, 200) of them) the way real gateways share backends. Policies
// are shared too (8 rate limiters, 4 breakers, 4 retry policies), as platform teams define a few
// policy tiers and reference them; `{ distinctPolicies: true }` gives every route its own nodes.
export function syntheticModel(routes, { distinctPolicies = false } = {}) {
  const policy = (i, n) => (distinctPolicies ? i : i % n);
  const services = Math.max(2, Math.min(Math.ceil(routes / 10), 200));
  const out = [
    '@prefix agw: <https://ggen.ai/ontology/api-gateway#> .',
    '@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .',
    '@prefix ex: <https://example.org/bench#> .',
    '',
    'ex:gw a agw:ApiGateway ; agw:gatewayName "bench-gateway" ; agw:listenPort 8080 ;',
    '  agw:hasCorsPolicy ex:cors ; agw:hasDistributedTracing ex:tracing ; agw:hasServiceMesh ex:mesh ;',
    `  agw:hasConsumer ${Array.from({ length: 20 }, (_, i) => `ex:consumer${i}`).join(', ')} ;`,
    `  agw:hasRoute ${Array.from({ length: routes }, (_, i) => `ex:route${i}`).join(', ')} .`,
    'ex:cors a agw:CorsPolicy ; agw:allowOrigin "https://app.example.com" ; agw:allowCredentials true ; agw:maxAgeSeconds 600 .',
    'ex:tracing a agw:DistributedTracing ; agw:samplingRate 0.1 ; agw:collectorEndpoint "http://otel:4318" .',
    'ex:mesh a agw:ServiceMesh ; agw:meshType "istio" ; agw:hasMutualTLS ex:mtls .',
    'ex:mtls a agw:MutualTLS ; agw:mtlsMode "STRICT" .',
    'ex:jwt a agw:JWTAuthentication ; agw:issuer "https://auth.example.com" ; agw:audience "bench" ; agw:jwksUri "https://auth.example.com/jwks.json" ; agw:algorithm "RS256" ; agw:requiredScope "bench:read" .',
    'ex:apikey a agw:ApiKey ; agw:keyHeader "X-API-Key" .',
    'ex:tierFree a agw:QuotaTier ; agw:tierName "free" ; agw:requestsPerSecond 5 ; agw:monthlyQuota 10000 .',
    'ex:tierPro a agw:QuotaTier ; agw:tierName "pro" ; agw:requestsPerSecond 50 .',
    'ex:ipr a agw:IpRestriction ; agw:allowCidr "10.0.0.0/8" ; agw:denyCidr "10.66.0.0/16" .',
  ];
  for (let c = 0; c < 20; c++) out.push(`ex:consumer${c} a agw:Consumer ; agw:consumerName "consumer-${c}" ; agw:apiKeyEnv "CONSUMER_${c}_KEY" ; agw:hasQuotaTier ${c % 2 ? 'ex:tierPro' : 'ex:tierFree'} .`);
  for (let s = 0; s < services; s++) {
    out.push(
      `ex:svc${s} a agw:BackendService ; agw:serviceName "svc-${s}" ; agw:host "svc-${s}.apps.svc.cluster.local" ; agw:port 8080 ; agw:namespace "apps" ;`,
      `  agw:loadBalancing "${['round-robin', 'least-connections', 'consistent-hash', 'random'][s % 4]}" ; agw:version "v${s % 3}" ; agw:image "ghcr.io/example/svc-${s}:1.0.0" ; agw:hasHealthCheck ex:hc${s} .`,
      `ex:hc${s} a agw:HealthCheck ; agw:healthCheckPath "/healthz" ; agw:healthCheckInterval "PT10S"^^xsd:duration ; agw:successThreshold 2 ; agw:failureThresholdHealth 3 .`,
    );
  }
  for (let i = 0; i < routes; i++) {
    const svc = i % services;
    const lines = [
      `ex:route${i} a agw:Route ; agw:routeName "route-${i}" ; agw:routePath "/api/r${i}${i % 3 === 0 ? '/{id}' : ''}" ; agw:httpMethod "GET", "POST" ;`,
      `  agw:timeoutSeconds 5 ; agw:hasRateLimiter ex:rl${policy(i, 8)} ; agw:hasCircuitBreaker ex:cb${policy(i, 4)} ; agw:hasRetryPolicy ex:retry${policy(i, 4)} ;`,
      `  agw:hasAuthentication ${i % 2 ? 'ex:jwt' : 'ex:apikey'} ; agw:costMultiplier ${1 + (i % 4)}${i % 10 === 0 ? ' ; agw:hasIpRestriction ex:ipr' : ''} ;`,
    ];
    if (i % 5 === 0) {
      lines.push(`  agw:hasTrafficSplit ex:split${i}a, ex:split${i}b, ex:split${i}c .`);
      lines.push(`ex:split${i}a a agw:TrafficSplit ; agw:hasBackendService ex:svc${svc} ; agw:weight 90 .`);
      lines.push(`ex:split${i}b a agw:TrafficSplit ; agw:hasBackendService ex:svc${(svc + 1) % services} ; agw:weight 10 .`);
      lines.push(`ex:split${i}c a agw:TrafficSplit ; agw:hasBackendService ex:svc${(svc + 1) % services} ; agw:matchHeader "x-canary" ; agw:matchHeaderValue "true" .`);
    } else {
      lines.push(`  agw:hasBackendService ex:svc${svc}${i % 7 === 0 ? ` ; agw:hasTrafficMirror ex:mirror${i}` : ''} .`);
      if (i % 7 === 0) lines.push(`ex:mirror${i} a agw:TrafficMirror ; agw:hasBackendService ex:svc${(svc + 1) % services} ; agw:mirrorPercent 10 .`);
    }
    if (distinctPolicies || i < 8) lines.push(
      `ex:rl${i} a agw:RateLimiter ; agw:requestsPerSecond 100 ; agw:requestsPerMinute 3000 ; agw:burstSize 200 ; agw:limitBy "${['ip', 'consumer', 'global'][i % 3]}" ; agw:policy "${i % 4 ? 'local' : 'redis'}" .`,
    );
    if (distinctPolicies || i < 4) lines.push(
      `ex:cb${i} a agw:CircuitBreaker ; agw:failureThreshold ${3 + (i % 4)} ; agw:timeoutSeconds 30 ; agw:halfOpenRequests 2 .`,
      `ex:retry${i} a agw:RetryPolicy ; agw:retryAttempts ${1 + (i % 3)} ; agw:retryOn "5xx", "connect-failure" ; agw:perTryTimeoutSeconds 2 .`,
    );
    out.push(...lines);
  }
  return `${out.join('\n')}\n`;
}
