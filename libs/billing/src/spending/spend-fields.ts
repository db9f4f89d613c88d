import { ValidationArguments, ValidationOptions, registerDecorator } from 'class-validator';

/**
 * The fields a debit and a hold share (DESIGN §1.1): an amount of credits, a description and
 * the host's metadata, with one set of bounds and one validator, so both routes answer a bad
 * value alike.
 */
export const MIN_CREDITS = 1;
export const MAX_CREDITS = 1_000_000_000;
export const MAX_DESCRIPTION_LENGTH = 500;
export const MAX_METADATA_KEYS = 20;
export const MAX_METADATA_KEY_LENGTH = 40;
export const MAX_METADATA_VALUE_LENGTH = 500;

/** The OpenAPI schema of `metadata`, with what the route does with it. */
export function metadataSchema(purpose: string, example: Record<string, string>) {
  return {
    description:
      `${purpose}: at most ${MAX_METADATA_KEYS} keys of at most ${MAX_METADATA_KEY_LENGTH} ` +
      `characters, string values of at most ${MAX_METADATA_VALUE_LENGTH}`,
    type: 'object',
    additionalProperties: { type: 'string', maxLength: MAX_METADATA_VALUE_LENGTH },
    maxProperties: MAX_METADATA_KEYS,
    example,
  } as const;
}

const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * One rule of the metadata contract (§1.1: ≤ 20 string keys of ≤ 40 characters, string values
 * of ≤ 500). Each is its own constraint, named after the pydantic type it answers, so the 422
 * says which rule failed; a value that is not an object fails `dict_type` alone.
 */
function metadataRule(
  name: string,
  check: (metadata: Record<string, unknown>) => string | undefined,
  options?: ValidationOptions,
): PropertyDecorator {
  return (target: object, propertyName: string | symbol) => {
    const failures = new WeakMap<object, string>();
    registerDecorator({
      name,
      target: target.constructor,
      propertyName: propertyName as string,
      options,
      validator: {
        validate(value: unknown, args: ValidationArguments) {
          if (value === undefined || value === null) return true;
          if (!isPlainObject(value)) return name !== 'dict_type';
          if (name === 'dict_type') return true;
          const failure = check(value);
          if (failure) failures.set(args.object, failure);
          return failure === undefined;
        },
        defaultMessage(args: ValidationArguments) {
          return name === 'dict_type' ? 'Input should be a valid dictionary' : (failures.get(args.object) ?? name);
        },
      },
    });
  };
}

/** `metadata`: an object of at most 20 string keys (≤ 40 characters) and string values (≤ 500). */
export function IsMetadata(): PropertyDecorator {
  const rules = [
    metadataRule('dict_type', () => undefined),
    metadataRule('too_long', (metadata) =>
      Object.keys(metadata).length > MAX_METADATA_KEYS
        ? `Dictionary should have at most ${MAX_METADATA_KEYS} items`
        : undefined,
    ),
    metadataRule('string_type', (metadata) => {
      const key = Object.keys(metadata).find((k) => typeof metadata[k] !== 'string');
      return key === undefined ? undefined : `Value of '${key.slice(0, 60)}': input should be a valid string`;
    }),
    metadataRule('string_too_long', (metadata) => {
      const long = Object.keys(metadata).find((k) => k.length > MAX_METADATA_KEY_LENGTH);
      if (long !== undefined) return `Keys should have at most ${MAX_METADATA_KEY_LENGTH} characters`;
      const key = Object.keys(metadata).find(
        (k) => typeof metadata[k] === 'string' && metadata[k].length > MAX_METADATA_VALUE_LENGTH,
      );
      return key === undefined
        ? undefined
        : `Value of '${key}' should have at most ${MAX_METADATA_VALUE_LENGTH} characters`;
    }),
  ];
  return (target, propertyName) => rules.forEach((rule) => rule(target, propertyName));
}
