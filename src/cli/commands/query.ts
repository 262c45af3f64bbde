import { Option, type Command } from 'commander';
import { exitCodeFor, problem } from '../../errors.js';
import { shortenWith } from '../../paths.js';
import { query, type QueryInput } from '../../query.js';
import { toSparqlCsv, toSparqlJson, toTable } from '../../sparql/results.js';
import { out } from '../output.js';
import type { Run } from '../program.js';

interface QueryFlags {
  /** Every -e given: one is a query, several a usage error (commander would keep the last alone). */
  expression?: string[];
  format: 'table' | 'json' | 'csv';
}

export function registerQuery(program: Command, run: Run): void {
  program
    .command('query')
    .description('run a SPARQL SELECT or ASK query over the model merged with the ontology')
    .argument('<files...>', 'Turtle model files, then a .rq query file unless -e is given')
    .option('-e, --expression <sparql>', 'the query text', (value: string, given: string[] | undefined) => [...(given ?? []), value])
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
        const isQueryFile = (f: string) => /\.(rq|sparql)$/i.test(f);
        let input: QueryInput;
        if (flags.expression !== undefined) {
          if (flags.expression.length > 1) {
            out.problems([problem('usage', `-e was given ${flags.expression.length} times; gwgen query runs one query`, { hint: 'run gwgen query once per query, or combine them into one (UNION, or a subquery)' })]);
            return 2;
          }
          const file = files.find(isQueryFile);
          if (file) {
            out.problems([problem('usage', `both a query file (${file}) and -e were given`, { hint: "give one: the .rq file after the model files, or the query text with -e 'SELECT ...'" })]);
            return 2;
          }
          input = { models: files, query: flags.expression[0]! };
        } else {
          const last = files[files.length - 1]!;
          // One query per run, after the models: any other .rq would be read as Turtle and fail
          // as a "syntax error" of the model, which is not what is wrong.
          const queryFiles = files.filter(isQueryFile);
          if (queryFiles.length > 1) {
            out.problems([problem('usage', `${queryFiles.length} query files were given (${queryFiles.join(', ')}); gwgen query runs one`, { hint: `run gwgen query once per query file, e.g. gwgen query ${files.filter((f) => !isQueryFile(f)).join(' ') || 'model.ttl'} ${queryFiles[0]}` })]);
            return 2;
          }
          if (queryFiles.length === 1 && !isQueryFile(last)) {
            const models = files.filter((f) => !isQueryFile(f));
            out.problems([problem('usage', `the query file ${queryFiles[0]} comes before the model files`, { hint: `give the model files first, then the query file: gwgen query ${models.join(' ')} ${queryFiles[0]}` })]);
            return 2;
          }
          if (!isQueryFile(last)) {
            out.problems([problem('usage', 'no query given', { hint: "pass a query file (.rq or .sparql) after the model files, or -e 'SELECT ...'" })]);
            return 2;
          }
          if (files.length < 2) {
            out.problems([problem('usage', `no model file given: ${last} is the query`, { hint: `give the model's Turtle files before the query file, e.g. gwgen query model.ttl ${last}` })]);
            return 2;
          }
          input = { models: files.slice(0, -1), queryFile: last };
        }
        const result = await query(input);
        if (!result.ok) {
          out.problems(result.problems);
          return exitCodeFor(result.problems);
        }
        const { prefixes } = result;
        const render = { json: toSparqlJson, csv: toSparqlCsv, table: (o: Parameters<typeof toSparqlJson>[0]) => toTable(o, (iri) => shortenWith(prefixes, iri)) }[flags.format];
        process.stdout.write(render(result.outcome));
        return 0;
      }),
    );
}
