import { readFile } from 'node:fs/promises';
import { Option, type Command } from 'commander';
import { exitCodeFor, problem } from '../../errors.js';
import { shorten } from '../../paths.js';
import { query } from '../../query.js';
import { toSparqlCsv, toSparqlJson, toTable } from '../../sparql/results.js';
import { out } from '../output.js';
import type { Run } from '../program.js';

interface QueryFlags {
  expression?: string;
  format: 'table' | 'json' | 'csv';
}

export function registerQuery(program: Command, run: Run): void {
  program
    .command('query')
    .description('run a SPARQL SELECT or ASK query over the model merged with the ontology')
    .argument('<files...>', 'Turtle model files, then a .rq query file unless -e is given')
    .option('-e, --expression <sparql>', 'the query text')
    .addOption(new Option('-f, --format <format>', 'output format').choices(['table', 'json', 'csv']).default('table'))
    .addHelpText(
      'after',
      `
The prefixes rdf rdfs owl xsd agw are predeclared, so the ggen package's .rq files run unchanged.

Examples:
  $ gwgen query examples/metered-api.ttl -e 'SELECT ?route ?path WHERE { ?route a agw:Route ; agw:routePath ?path } ORDER BY ?path'
  $ gwgen query model.ttl queries/routes.rq --format json     # W3C SPARQL results JSON
  $ gwgen query model.ttl -e 'ASK { ?s agw:mtlsMode "DISABLE" }'

Formats: table (aligned text), json (W3C SPARQL 1.1 Query Results JSON), csv (W3C SPARQL 1.1 CSV).
Exit codes: 0 done, 1 the model or the query is invalid, 2 usage error.`,
    )
    .action((files: string[], flags: QueryFlags) =>
      run(async () => {
        let models = files;
        let text = flags.expression;
        let origin = '-e';
        if (text === undefined) {
          const last = files[files.length - 1];
          if (!last || !/\.(rq|sparql)$/i.test(last) || files.length < 2) {
            out.problems([problem('usage', 'no query given', { hint: "pass a .rq file after the model files, or -e 'SELECT ...'" })]);
            return 2;
          }
          models = files.slice(0, -1);
          origin = last;
          try {
            text = await readFile(last, 'utf8');
          } catch {
            out.problems([problem('file-not-found', `query file not found: ${last}`, { location: { file: last }, hint: "check the path, or give the query inline with -e 'SELECT ...'" })]);
            return 2;
          }
        }
        const result = await query({ models, query: text, queryOrigin: origin });
        if (!result.ok) {
          out.problems(result.problems);
          return exitCodeFor(result.problems);
        }
        const render = { json: toSparqlJson, csv: toSparqlCsv, table: (o: Parameters<typeof toSparqlJson>[0]) => toTable(o, shorten) }[flags.format];
        process.stdout.write(render(result.outcome));
        return 0;
      }),
    );
}
