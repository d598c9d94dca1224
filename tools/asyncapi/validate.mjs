// Parse and validate AsyncAPI documents with the official parser; print one report per file
// as JSON ({file: {parsed, errors, warnings, operations}}) and exit 1 when any has an error.
//   node tools/asyncapi/validate.mjs schemas/asyncapi/asyncapi.yaml [MORE.yaml ...]
import { resolve } from 'node:path';
import { Parser, fromFile } from '@asyncapi/parser';

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error('usage: node validate.mjs FILE...');
  process.exit(2);
}
const parser = new Parser();
const show = (d) => ({ code: d.code, message: d.message, path: d.path.join('/') });
const reports = {};
for (const file of files) {
  const { document, diagnostics } = await fromFile(parser, resolve(file)).parse();
  reports[file] = {
    parsed: document !== undefined,
    errors: diagnostics.filter((d) => d.severity === 0).map(show),
    warnings: diagnostics.filter((d) => d.severity === 1).map(show),
    operations: document ? document.operations().all().map((o) => o.id()) : [],
  };
}
console.log(JSON.stringify(reports, null, 2));
const ok = Object.values(reports).every((r) => r.parsed && r.errors.length === 0);
process.exit(ok ? 0 : 1);
