// Lints an OpenAPI document with Redocly's `recommended` rules and prints the problems as JSON.
// A separate process: @redocly/openapi-core is ES modules only, which Jest's CommonJS runtime
// cannot load on Node 20 (plain Node can).
import { BaseResolver, createConfig, lintDocument, makeDocumentFromString } from '@redocly/openapi-core';
import { readFileSync } from 'node:fs';

const file = process.argv[2];
const config = await createConfig({ extends: ['recommended'] });
const document = makeDocumentFromString(readFileSync(file, 'utf8'), file);
const problems = await lintDocument({ document, config, externalRefResolver: new BaseResolver() });
const summary = problems.map((p) => ({
  severity: p.severity,
  rule: p.ruleId,
  message: p.message,
  where: p.location[0]?.pointer,
}));
process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
