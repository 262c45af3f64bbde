#!/usr/bin/env node
import { prestartQueryWorker } from '../sparql/worker-client.js';

// The CLI runs in UTC: Comunica builds NOW() and zoneless date-times from local-time fields,
// which an hour skipped by a daylight-saving change would move, so an audit would depend on
// where and when it runs. Set before the worker starts, which takes the zone from the process.
process.env.TZ = 'UTC';

// Commands that run SPARQL in the query worker start it first, so that Comunica loads while
// the rest of the CLI loads (~0.2 s) and the model is read and parsed.
if (['generate', 'audit'].includes(process.argv[2] ?? '')) prestartQueryWorker();

// gwgen watch ends with exit 0 on Ctrl-C or SIGTERM, also one that comes while it loads.
if (process.argv.slice(2).find((a) => a !== '--debug') === 'watch') (await import('./interrupt.js')).noteEarlyInterrupt();

const [{ main }, { tolerateClosedPipes }] = await Promise.all([import('./program.js'), import('./output.js')]);
tolerateClosedPipes();
// Exit once stdout has drained, so piped output is never cut short.
main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
