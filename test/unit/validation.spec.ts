import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { plainToInstance } from 'class-transformer';
import { getMetadataStorage, type ValidationArguments } from 'class-validator';
import type { ValidationMetadata } from 'class-validator/types/metadata/ValidationMetadata';
import { RedirectUrlPolicy, REDIRECT_URL_POLICY } from '@credits/billing';
import { PageSizeQuery } from '@credits/pagination';
import { attachValidationContext, instanceWithFields, needsConversion, RequestValidationPipe } from '@credits/errors';

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

  it('converts every DTO that declares a conversion (the others are copied, not converted)', () => {
    // A class-transformer decorator on a class not marked by ConvertedBy / NestedOf would be
    // skipped by the pipe: the copy and the conversion of the same input would differ.
    const unmarked: string[] = [];
    for (const dto of dtoClasses) {
      const properties = storage.getTargetValidationMetadatas(dto, '', true, false).map((m) => m.propertyName);
      if (properties.length === 0 || needsConversion(dto)) continue;
      for (const probe of ['7', 'x', {}, [{}], ['7']]) {
        const input = Object.fromEntries(properties.map((property) => [property, probe]));
        if (!isDeepStrictEqual(instanceWithFields(dto, input), plainToInstance(dto, input)))
          unmarked.push(`${dto.name} on ${JSON.stringify(probe)}`);
      }
    }
    expect(unmarked).toEqual([]);
  });

  it('copies a body onto the DTO as class-transformer would, never its prototype', () => {
    class Body {
      name = 'default';
      count?: number;
    }
    const body = JSON.parse('{"count": 2, "extra": {"a": [1]}, "__proto__": {"polluted": true}, "constructor": 1}');
    const copied = instanceWithFields(Body, body as object);
    expect(copied).toBeInstanceOf(Body);
    expect(isDeepStrictEqual(copied, plainToInstance(Body, body))).toBe(true);
    expect(Object.getPrototypeOf(copied)).toBe(Body.prototype);
    expect(copied).toEqual({ name: 'default', count: 2, extra: { a: [1] } });
  });

  it('converts a class whose parent declares a conversion', () => {
    class Listing extends PageSizeQuery {}
    expect(needsConversion(Listing)).toBe(true);
    const instance = new RequestValidationPipe().transform({ limit: '7' }, { type: 'query', metatype: Listing });
    expect(instance).toEqual(Object.assign(new Listing(), { limit: 7 }));
  });

  it('answers for a non-DTO argument without a promise', () => {
    const pipe = new RequestValidationPipe();
    const org = { id: 'o' };
    expect(pipe.transform(org, { type: 'custom', metatype: Object })).toBe(org);
  });
});
