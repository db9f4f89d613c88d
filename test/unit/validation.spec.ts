import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { getMetadataStorage, type ValidationArguments } from 'class-validator';
import type { ValidationMetadata } from 'class-validator/types/metadata/ValidationMetadata';
import { RedirectUrlPolicy, REDIRECT_URL_POLICY } from '@credits/billing';
import { PageSizeQuery } from '@credits/pagination';
import { attachValidationContext, instanceWithFields, RequestValidationPipe, ValidationError } from '@credits/errors';
import { RecordUsageBatchRequest, UsageBatchItem } from '../../libs/billing/src/usage/usage.dto';

/** Every `*.dto.ts` of the API, where request bodies and queries are declared. */
function dtoFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return name === 'node_modules' ? [] : dtoFiles(path);
    return name.endsWith('.dto.ts') ? [path] : [];
  });
}

const root = join(__dirname, '../..');
const files = [...dtoFiles(join(root, 'libs')), ...dtoFiles(join(root, 'apps'))];

/**
 * RequestValidationPipe validates with `validateSync`, which passes over a constraint that has
 * to wait (one marked async, or one whose check returns a promise): such a rule would never
 * refuse anything. Every constraint on a request DTO must answer at once.
 */
describe('request validation', () => {
  const storage = getMetadataStorage();
  let dtoClasses: (new () => object)[] = [];
  let custom: { dto: new () => object; metadata: ValidationMetadata }[] = [];

  beforeAll(async () => {
    const modules = await Promise.all(files.map((file) => import(file) as Promise<Record<string, unknown>>));
    dtoClasses = modules
      .flatMap((exports) => Object.values(exports))
      .filter((value): value is new () => object => typeof value === 'function');
    custom = dtoClasses.flatMap((dto) =>
      storage
        .getTargetValidationMetadatas(dto, '', true, false)
        .filter((metadata) => metadata.type === 'customValidation')
        .map((metadata) => ({ dto, metadata })),
    );
  });

  it('finds the DTOs and their custom rules', () => {
    expect(dtoClasses.length).toBeGreaterThan(10);
    expect(custom.length).toBeGreaterThan(0);
  });

  it('has no constraint that waits', () => {
    // What the pipe hands the rules (the redirect rules refuse to judge without it).
    const object = {};
    attachValidationContext(object, { [REDIRECT_URL_POLICY]: new RedirectUrlPolicy(['app.example.com'], false) });
    const waiting: string[] = [];
    for (const { dto, metadata } of custom) {
      const name = `${dto.name}.${metadata.propertyName}`;
      const constraints = storage.getTargetValidatorConstraints(metadata.constraintCls);
      if (constraints.length === 0) waiting.push(`${name}: a rule with no constraint`);
      for (const constraint of constraints) {
        const validate = constraint.instance.validate.bind(constraint.instance);
        if (constraint.async || constraint.instance.validate.constructor.name === 'AsyncFunction') {
          waiting.push(`${name} (${constraint.name})`);
          continue;
        }
        for (const value of [undefined, 'x', 'https://app.example.com/done', 7, { key: 'value' }]) {
          const args: ValidationArguments = {
            value,
            constraints: metadata.constraints ?? [],
            targetName: dto.name,
            object,
            property: metadata.propertyName,
          };
          if (validate(value, args) instanceof Promise)
            waiting.push(`${name} (${constraint.name}) on ${JSON.stringify(value)}`);
        }
      }
    }
    expect(waiting).toEqual([]);
  });

  it('copies a body onto the DTO, never its prototype', () => {
    class Body {
      name = 'default';
      count?: number;
    }
    const body = JSON.parse('{"count": 2, "extra": {"a": [1]}, "__proto__": {"polluted": true}, "constructor": 1}');
    const copied = instanceWithFields(Body, body as object);
    expect(copied).toBeInstanceOf(Body);
    expect(Object.getPrototypeOf(copied)).toBe(Body.prototype);
    expect({ ...copied }).toEqual({ name: 'default', count: 2, extra: { a: [1] } });
  });

  it('never lets a body set a method, an inherited name or a property without a setter', () => {
    class Body {
      count?: number;
      describe(): string {
        return 'a body';
      }
      get label(): string {
        return 'fixed';
      }
    }
    const names = Object.getOwnPropertyNames(Object.prototype).filter((name) => name !== '__proto__');
    const body = Object.fromEntries([...names, 'describe', 'label', 'count'].map((name) => [name, 'x']));
    const copied = instanceWithFields(Body, body);
    expect(Object.keys(copied)).toEqual(['count']);
    expect((copied as Body).describe()).toBe('a body');
    // Inherited from the class it extends, too.
    class Extended extends Body {}
    expect(Object.keys(instanceWithFields(Extended, body))).toEqual(['count']);
  });

  it('converts a class whose parent declares a conversion', () => {
    class Listing extends PageSizeQuery {}
    const instance = new RequestValidationPipe().transform({ limit: '7' }, { type: 'query', metatype: Listing });
    expect(instance).toEqual(Object.assign(new Listing(), { limit: 7 }));
  });

  it('makes each batch item an instance of its class, its metadata kept as sent', () => {
    const metadata = { constructor: 'x', toString: 'y', model: 'large' };
    const body = JSON.parse(JSON.stringify({ items: [{ amount: 3, idempotency_key: 'k-1', metadata }] }));
    const request = new RequestValidationPipe().transform(body, { type: 'body', metatype: RecordUsageBatchRequest });
    const [item] = (request as RecordUsageBatchRequest).items;
    expect(item).toBeInstanceOf(UsageBatchItem);
    expect({ ...item.metadata }).toEqual(metadata);
  });

  it('refuses a batch item that is not an object, in the envelope', () => {
    const pipe = new RequestValidationPipe();
    expect(() => pipe.transform({ items: ['k-1'] }, { type: 'body', metatype: RecordUsageBatchRequest })).toThrow(
      ValidationError,
    );
  });

  it('refuses a batch item that is an array, every loc a path of names and indexes', () => {
    const pipe = new RequestValidationPipe();
    const item = { amount: 3, idempotency_key: 'k-1' };
    for (const items of [[[]], [[item]]]) {
      let refused: unknown;
      try {
        pipe.transform({ items }, { type: 'body', metatype: RecordUsageBatchRequest });
      } catch (error) {
        refused = error;
      }
      expect(refused).toBeInstanceOf(ValidationError);
      const { errors } = refused as ValidationError;
      expect(errors).toContainEqual(expect.objectContaining({ loc: ['body', 'items'], type: 'model_attributes_type' }));
      for (const { loc } of errors ?? []) for (const part of loc) expect(['string', 'number']).toContain(typeof part);
    }
  });

  it('answers for a non-DTO argument without a promise', () => {
    const pipe = new RequestValidationPipe();
    const org = { id: 'o' };
    expect(pipe.transform(org, { type: 'custom', metatype: Object })).toBe(org);
  });
});
