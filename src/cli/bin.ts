#!/usr/bin/env node
import { main } from './program.js';

// Exit once stdout has drained, so piped output is never cut short.
main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
