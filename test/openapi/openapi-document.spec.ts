import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { SchemaValidator } from './schema-validator';

const ROOT = resolve(__dirname, '../..');
/** The committed document; openapi.e2e-spec.ts holds that it is exactly what the app serves. */
const DOC_PATH = join(ROOT, 'openapi.json');
const doc = JSON.parse(readFileSync(DOC_PATH, 'utf8'));

const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

/**
 * Warnings of Redocly's recommended rules that say nothing wrong about this API:
 * - a proprietary licence has no text to link (`info-license-strict` wants a url);
 * - the probes answer 200 or 503 and nothing in between (`operation-4xx-response`).
 */
const ACCEPTED_WARNINGS = [
  'info-license-strict #/info/license/url',
  'operation-4xx-response #/paths/~1healthz/get/responses',
  'operation-4xx-response #/paths/~1readyz/get/responses',
];

/** A schema found in the document, with where it sits (a JSON pointer). */
interface Located {
  where: string;
  schema: any;
}

function operations(): { where: string; operation: any }[] {
  return Object.entries<any>(doc.paths).flatMap(([path, item]) =>
    HTTP_METHODS.filter((method) => item[method]).map((method) => ({
      where: `#/paths/${path.replace(/~/g, '~0').replace(/\//g, '~1')}/${method}`,
      operation: item[method],
    })),
  );
}

/** Every schema of the document: components, parameters, bodies, answers, and all they nest. */
function allSchemas(): Located[] {
  const found: Located[] = [];
  const visit = (schema: any, where: string) => {
    if (typeof schema !== 'object' || schema === null || schema.$ref) return;
    found.push({ where, schema });
    for (const [name, property] of Object.entries<any>(schema.properties ?? {})) {
      visit(property, `${where}/properties/${name}`);
    }
    if (schema.items) visit(schema.items, `${where}/items`);
    if (typeof schema.additionalProperties === 'object') {
      visit(schema.additionalProperties, `${where}/additionalProperties`);
    }
    for (const keyword of ['allOf', 'oneOf', 'anyOf']) {
      (schema[keyword] ?? []).forEach((sub: any, i: number) => visit(sub, `${where}/${keyword}/${i}`));
    }
  };
  for (const [name, schema] of Object.entries<any>(doc.components.schemas)) {
    visit(schema, `#/components/schemas/${name}`);
  }
  for (const media of mediaAndParameters()) visit(media.schema, `${media.where}/schema`);
  return found;
}

/** Parameters and media types: the places that hold a `schema` with `example`/`examples` beside it. */
function mediaAndParameters(): { where: string; schema: any; holder: any }[] {
  const out: { where: string; schema: any; holder: any }[] = [];
  const content = (holder: any, where: string) => {
    for (const [type, media] of Object.entries<any>(holder?.content ?? {})) {
      out.push({ where: `${where}/content/${type}`, schema: media.schema, holder: media });
    }
  };
  for (const { where, operation } of operations()) {
    (operation.parameters ?? []).forEach((parameter: any, i: number) =>
      out.push({ where: `${where}/parameters/${i}`, schema: parameter.schema, holder: parameter }),
    );
    content(operation.requestBody, `${where}/requestBody`);
    for (const [status, response] of Object.entries<any>(operation.responses)) {
      content(response, `${where}/responses/${status}`);
    }
  }
  return out;
}

describe('openapi.json', () => {
  it("passes Redocly's recommended rules with no error, and no warning beyond the accepted ones", () => {
    const output = execFileSync(process.execPath, [join(__dirname, 'redocly-lint.mjs'), DOC_PATH], {
      cwd: ROOT,
      encoding: 'utf8',
    });
    const problems: { severity: string; rule: string; message: string; where: string }[] = JSON.parse(output);
    expect(problems.filter((p) => p.severity === 'error')).toEqual([]);
    const warnings = problems.filter((p) => !ACCEPTED_WARNINGS.includes(`${p.rule} ${p.where}`));
    expect(warnings).toEqual([]);
  });

  it('has examples (and defaults) that conform to their schemas', () => {
    const validator = new SchemaValidator(doc);
    const checked: { where: string; errors: string[] }[] = [];
    const check = (where: string, schema: any, value: unknown) =>
      checked.push({ where, errors: validator.errors(schema, value) });

    for (const { where, schema } of allSchemas()) {
      const { example, default: fallback, ...rest } = schema;
      if (example !== undefined) check(`${where}/example`, rest, example);
      if (fallback !== undefined) check(`${where}/default`, rest, fallback);
    }
    for (const { where, schema, holder } of mediaAndParameters()) {
      if (holder.example !== undefined) check(`${where}/example`, schema, holder.example);
      for (const [name, example] of Object.entries<any>(holder.examples ?? {})) {
        check(`${where}/examples/${name}`, schema, example.value);
      }
    }

    expect(checked.length).toBeGreaterThan(20);
    expect(checked.filter((c) => c.errors.length > 0)).toEqual([]);
  });

  it('types every value as what it is: no untyped schema, no shapeless object, no fractional number', () => {
    const problems: string[] = [];
    for (const { where, schema } of allSchemas()) {
      const composed = ['allOf', 'oneOf', 'anyOf'].some((keyword) => schema[keyword]);
      if (schema.type === undefined && !composed) problems.push(`${where}: no type`);
      // A bare `type: object` is what a `string | null` property becomes without an explicit type.
      if (schema.type === 'object' && !schema.properties && schema.additionalProperties === undefined) {
        problems.push(`${where}: an object with no properties (a scalar typed as object?)`);
      }
      if (schema.nullable && schema.type === undefined) problems.push(`${where}: nullable without a type`);
      if (schema.type === 'array' && !schema.items) problems.push(`${where}: an array without items`);
      if (['date-time', 'date', 'uri', 'uuid', 'email'].includes(schema.format) && schema.type !== 'string') {
        problems.push(`${where}: format ${schema.format} on ${schema.type}`);
      }
      // Credits, amounts in cents, counts, statuses: this API has no fractions.
      if (schema.type === 'number') problems.push(`${where}: number, not integer`);
    }
    expect(problems).toEqual([]);
  });

  it('gives every operation a summary and a snake_case operationId, and describes every tag it uses', () => {
    const declared = new Map<string, string>(doc.tags.map((tag: any) => [tag.name, tag.description]));
    const problems: string[] = [];
    for (const { where, operation } of operations()) {
      if (!operation.summary) problems.push(`${where}: no summary`);
      if (!/^[a-z][a-z0-9_]*$/.test(operation.operationId ?? '')) {
        problems.push(`${where}: operationId ${operation.operationId}`);
      }
      for (const tag of operation.tags ?? []) {
        if (!declared.get(tag)) problems.push(`${where}: tag ${tag} has no description (apps/api/src/openapi)`);
      }
    }
    expect(problems).toEqual([]);
  });
});
