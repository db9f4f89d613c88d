/**
 * How the validation pipe turns a parsed body or query into the instance of its DTO that
 * class-validator checks: the input's own fields copied onto a new instance, then the
 * conversions the DTO declares (below) applied to the fields that are there.
 *
 * Not class-transformer's `plainToInstance`, which the pipe used before: for every key it
 * looked up expose, exclude and type metadata, walking the class's ancestors each time (~9%
 * of the API's CPU on a checkout body), and it rebuilt every nested object through the
 * object's own `constructor` field, so a metadata key named `constructor` in a usage batch
 * was a 500. What a DTO needs of it is two things, declared with `ConvertedBy` and `NestedOf`.
 */

/** A field's value as the input held it, to what the DTO validates. */
type Conversion = (value: unknown) => unknown;

/** Each DTO class's own conversions, by property. */
const declared = new WeakMap<object, Map<string, Conversion>>();
/** A class's conversions with those of the classes it extends (its own win). */
const resolved = new WeakMap<object, ReadonlyMap<string, Conversion>>();

function declare(prototype: object, property: string | symbol, conversion: Conversion): void {
  const type = prototype.constructor;
  let own = declared.get(type);
  if (!own) declared.set(type, (own = new Map<string, Conversion>()));
  own.set(String(property), conversion);
}

/** The property is converted by `convert` before it is validated (a query's text to a number, say). */
export function ConvertedBy(convert: Conversion): PropertyDecorator {
  return (prototype, property) => declare(prototype, property, convert);
}

/** The property holds an object of class `type`, or a list of them, each copied and converted as its own DTO. */
export function NestedOf(type: () => new () => object): PropertyDecorator {
  const one = (value: unknown) => (isFields(value) ? toInstance(type(), value) : value);
  return (prototype, property) =>
    declare(prototype, property, (value) => (Array.isArray(value) ? value.map(one) : one(value)));
}

/** A query parameter given once arrives as a string: the property always holds a list. */
export const AsList = (): PropertyDecorator =>
  ConvertedBy((value) => (value === undefined || Array.isArray(value) ? value : [value]));

function isFields(value: unknown): value is object {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function conversionsOf(metatype: object): ReadonlyMap<string, Conversion> {
  let all = resolved.get(metatype);
  if (!all) {
    const chain: object[] = [];
    for (
      let type: object | null = metatype;
      type && type !== Function.prototype;
      type = Object.getPrototypeOf(type) as object | null
    )
      chain.unshift(type);
    all = new Map(chain.flatMap((type) => [...(declared.get(type) ?? [])]));
    resolved.set(metatype, all);
  }
  return all;
}

/** `value` as an instance of `metatype`: its fields copied (`instanceWithFields`), then converted as the class declares. */
export function toInstance(metatype: new () => object, value: object): object {
  const instance = instanceWithFields(metatype, value) as Record<string, unknown>;
  for (const [key, convert] of conversionsOf(metatype)) {
    if (Object.hasOwn(instance, key) && Object.hasOwn(value, key)) instance[key] = convert(instance[key]);
  }
  return instance;
}

/**
 * `value`'s own fields on a new instance of `metatype`, nothing converted. Skipped: the keys
 * no input may set on an instance (`__proto__`, `constructor`, and any name the instance
 * inherits without a setter: a method, `hasOwnProperty` and the rest of `Object.prototype`, a
 * getter of the class or of one it extends), as class-transformer skipped them. Nested
 * objects are the input's own (nothing else holds them).
 */
export function instanceWithFields(metatype: new () => object, value: object): object {
  const instance = new metatype() as Record<string, unknown>;
  for (const key of Object.keys(value)) {
    if (key === '__proto__' || key === 'constructor') continue;
    if (key in instance && !Object.hasOwn(instance, key) && !inheritedSetter(instance, key)) continue;
    instance[key] = (value as Record<string, unknown>)[key];
  }
  return instance;
}

/** Whether the name `instance` inherits is a property with a setter (then a field may set it). */
function inheritedSetter(instance: object, key: string): boolean {
  for (
    let type = Object.getPrototypeOf(instance) as object | null;
    type;
    type = Object.getPrototypeOf(type) as object | null
  ) {
    const defined = Object.getOwnPropertyDescriptor(type, key);
    if (defined) return defined.set !== undefined;
  }
  return false;
}
