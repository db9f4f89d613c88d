import { Transform, type TransformFnParams, Type } from 'class-transformer';

/**
 * DTO classes that declare a conversion for one of their properties. Only these go through
 * class-transformer's `plainToInstance` in the validation pipe: for any other class its work
 * (metadata lookups for every key, walking the class's ancestors each time: ~9% of the API's
 * CPU on a checkout body) yields what copying the fields onto a new instance yields. DTOs
 * declare conversions with the decorators below, never class-transformer's own (lint).
 */
const converting = new WeakSet<object>();
const needsConversionCache = new WeakMap<object, boolean>();

function markConverting(prototype: object): void {
  converting.add(prototype.constructor);
}

/** The property is converted by `convert` before it is validated (class-transformer's `@Transform`). */
export function ConvertedBy(convert: (params: TransformFnParams) => unknown): PropertyDecorator {
  const transform = Transform(convert);
  return (prototype, property) => {
    markConverting(prototype);
    transform(prototype, property);
  };
}

/** The property holds objects of class `type`, validated as such (class-transformer's `@Type`). */
export function NestedOf(type: () => new () => object): PropertyDecorator {
  const nested = Type(type);
  return (prototype, property) => {
    markConverting(prototype);
    nested(prototype, property);
  };
}

/** A query parameter given once arrives as a string: the property always holds a list. */
export const AsList = (): PropertyDecorator =>
  ConvertedBy(({ value }) => (value === undefined || Array.isArray(value) ? value : [value]));

/** Whether `metatype` or a class it extends declares a conversion. */
export function needsConversion(metatype: object): boolean {
  let needs = needsConversionCache.get(metatype);
  if (needs === undefined) {
    needs = false;
    for (
      let type: object | null = metatype;
      type && type !== Function.prototype;
      type = Object.getPrototypeOf(type) as object | null
    ) {
      if (converting.has(type)) needs = true;
    }
    needsConversionCache.set(metatype, needs);
  }
  return needs;
}

/**
 * `value`'s own fields on a new instance of `metatype`, as `plainToInstance` would put them for
 * a class with no conversion: nothing renamed or converted, the keys it never copies skipped.
 */
export function instanceWithFields(metatype: new () => object, value: object): object {
  const instance = new metatype() as Record<string, unknown>;
  for (const key of Object.keys(value)) {
    if (key === '__proto__' || key === 'constructor') continue;
    instance[key] = (value as Record<string, unknown>)[key];
  }
  return instance;
}
