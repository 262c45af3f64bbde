/**
 * How Kong counts a target's health (kong/resty/healthcheck.lua: report_http_status,
 * report_tcp_failure, incr_counter), with the defaults Kong's upstream schema fills in
 * (kong/db/schema/entities/upstreams.lua) for what a kong.yml leaves out. A test oracle: it
 * says what Kong does with a generated healthchecks block, to compare with the gateway.
 */
type Health = 'healthy' | 'mostly_healthy' | 'mostly_unhealthy' | 'unhealthy';
interface Side {
  successes?: number;
  http_failures?: number;
  tcp_failures?: number;
  timeouts?: number;
  http_statuses?: number[];
}
export interface KongCheck {
  healthy?: Side;
  unhealthy?: Side;
}

const DEFAULTS = {
  active: { healthy: { successes: 0, http_statuses: [200, 302] }, unhealthy: { http_failures: 0, tcp_failures: 0, timeouts: 0, http_statuses: [429, 404, 500, 501, 502, 503, 504, 505] } },
  passive: { healthy: { successes: 0, http_statuses: [200, 201, 202, 203, 204, 205, 206, 207, 208, 226, 300, 301, 302, 303, 304, 305, 306, 307, 308] }, unhealthy: { http_failures: 0, tcp_failures: 0, timeouts: 0, http_statuses: [429, 500, 503] } },
};

export class KongTarget {
  health: Health;
  private readonly counters = { success: 0, http: 0, tcp: 0, timeout: 0 };
  private readonly healthy: Required<Pick<Side, 'successes' | 'http_statuses'>>;
  private readonly unhealthy: Required<Pick<Side, 'http_failures' | 'tcp_failures' | 'timeouts' | 'http_statuses'>>;

  constructor(kind: 'active' | 'passive', check: KongCheck | undefined, start: Health = 'healthy') {
    this.health = start;
    this.healthy = { ...DEFAULTS[kind].healthy, ...check?.healthy } as typeof this.healthy;
    this.unhealthy = { ...DEFAULTS[kind].unhealthy, ...check?.unhealthy } as typeof this.unhealthy;
  }

  /** Whether Kong sends traffic to the target. */
  get up(): boolean {
    return this.health === 'healthy' || this.health === 'mostly_healthy';
  }

  /** An HTTP answer (0: no valid status line). */
  status(code: number): void {
    if (this.healthy.http_statuses.includes(code)) this.incr('healthy', this.healthy.successes, 'success');
    else if (code === 0 || this.unhealthy.http_statuses.includes(code)) this.incr('unhealthy', this.unhealthy.http_failures, 'http');
  }

  connectFailure(): void {
    this.incr('unhealthy', this.unhealthy.tcp_failures, 'tcp');
  }

  private incr(report: 'healthy' | 'unhealthy', limit: number, counter: keyof KongTarget['counters']): void {
    if (limit === 0 || report === this.health) return;
    this.counters[counter]++;
    // A success clears the three failure counters, a failure the success counter.
    for (const c of counter === 'success' ? (['http', 'tcp', 'timeout'] as const) : (['success'] as const)) this.counters[c] = 0;
    const failures = this.counters.http + this.counters.tcp + this.counters.timeout;
    if (this.counters[counter] >= limit) this.health = report;
    else if (this.health === 'healthy' && failures > 0) this.health = 'mostly_healthy';
    else if (this.health === 'unhealthy' && this.counters.success > 0) this.health = 'mostly_unhealthy';
  }
}
