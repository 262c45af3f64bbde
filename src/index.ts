/**
 * gwgen's library API. Every function returns values (files, problems, rows); only
 * writeOutput touches the disk, and only the CLI prints.
 */
export { validate, type ModelInput, type ValidateResult } from './validate.js';
export { generate, writeOutput, type GenerateInput, type GenerateResult, type WriteOptions, type WriteResult } from './generate.js';
export { query, type QueryInput, type QueryResult } from './query.js';
export { audit, failsOn, parseInstant, type AuditInput, type AuditResult, type Finding } from './audit/audit.js';
export { loadRules, parseRule, UNKNOWN_SUPPRESSION_RULE, type AuditRule, type Severity } from './audit/rules.js';
export { toJson as auditJson, toSarif as auditSarif, toTable as auditTable } from './audit/report.js';
export { watch, type Watcher, type WatchEvent } from './watch.js';
export { init, STARTER_MODEL } from './init.js';
export { loadConfig, CONFIG_FILE, type GwgenConfig } from './config.js';
export { toSparqlCsv, toSparqlJson, toTable } from './sparql/results.js';
export { formatProblem, exitCodeFor, type Problem, type SourceLocation } from './errors.js';
export { TARGETS, type Target } from './targets/index.js';
export type * from './model/types.js';
export type { GeneratedFile, Manifest, WritePlan } from './pipeline/write.js';
export type { Timings } from './timings.js';
