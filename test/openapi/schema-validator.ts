import Ajv, { type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';

/**
 * Validates values against the schemas of an OpenAPI 3.0 document (ajv, which knows
 * `nullable`). Objects are closed: a property the document does not declare is an error,
 * unless the schema says `additionalProperties` itself, so "the document describes every
 * field" is part of what conforms.
 */
export class SchemaValidator {
  private readonly ajv = new Ajv({ strict: true, allErrors: true });
  private readonly compiled = new Map<object, ValidateFunction>();

  constructor(private readonly doc: any) {
    addFormats(this.ajv);
  }

  /** Error messages, empty when `value` conforms to `schema` (a schema of the document, refs and all). */
  errors(schema: object, value: unknown): string[] {
    let validate = this.compiled.get(schema);
    if (!validate) {
      try {
        validate = this.ajv.compile(this.toJsonSchema(schema, []));
      } catch (error) {
        // Strict ajv refuses a schema that contradicts itself (e.g. `format: date-time` on an object).
        return [`the schema is not valid: ${(error as Error).message}`];
      }
      this.compiled.set(schema, validate);
    }
    if (validate(value)) return [];
    return (validate.errors ?? []).map((e) => `${e.instancePath || '(root)'} ${e.message ?? e.keyword}`);
  }

  /** The answer `status` of `method path` (e.g. `post`, `/api/v1/org/{org}/credits/checkout`) conforms to the document. */
  responseErrors(method: string, path: string, status: number, contentType: string | null, body: unknown): string[] {
    const operation = this.doc.paths[path]?.[method.toLowerCase()];
    if (!operation) return [`${method} ${path} is not in the document`];
    const response = operation.responses[String(status)];
    if (!response) return [`${method} ${path} answered ${status}, which the document does not list`];
    const media = response.content?.['application/json'];
    if (!media) return body === undefined ? [] : [`${status} has a body, the document declares none`];
    if (!contentType?.startsWith('application/json')) return [`${status} answered ${contentType}, not JSON`];
    return this.errors(media.schema, body).map((e) => `${method} ${path} ${status}: ${e}`);
  }

  private toJsonSchema(node: any, refs: string[]): any {
    if (Array.isArray(node)) return node.map((item) => this.toJsonSchema(item, refs));
    if (typeof node !== 'object' || node === null) return node;
    if (typeof node.$ref === 'string') {
      if (refs.includes(node.$ref)) throw new Error(`recursive schema ${node.$ref}: not supported here`);
      const target = node.$ref
        .replace(/^#\//, '')
        .split('/')
        .reduce((at: any, key: string) => at?.[key], this.doc);
      if (!target) throw new Error(`unresolved ${node.$ref}`);
      return this.toJsonSchema(target, [...refs, node.$ref]);
    }
    // `example` is OpenAPI's annotation, unknown to JSON Schema (and strict ajv).
    const { example: _example, ...rest } = node;
    const out: any = {};
    for (const [key, value] of Object.entries(rest)) {
      // Under `properties`, keys are property names: each value is a schema.
      out[key] =
        key === 'properties'
          ? Object.fromEntries(Object.entries(value as object).map(([k, v]) => [k, this.toJsonSchema(v, refs)]))
          : this.toJsonSchema(value, refs);
    }
    if (out.type === 'object' && out.properties && out.additionalProperties === undefined) {
      out.additionalProperties = false;
    }
    return out;
  }
}
