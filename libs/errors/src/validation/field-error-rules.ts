import { getMetadataStorage, ValidationError as ClassValidatorError } from 'class-validator';
import { FieldError } from '../field-error';

interface Rule {
  type: string;
  msg: (constraints: unknown[]) => string;
}

/**
 * class-validator constraint names -> pydantic-style error types, in the order a field's
 * errors are reported: only the first failing rule of a field is shown, like pydantic.
 * Custom constraints named after a pydantic type (e.g. `url_scheme`) keep their own message.
 */
const RULES: [string, Rule][] = [
  ['isDefined', { type: 'missing', msg: () => 'Field required' }],
  ['whitelistValidation', { type: 'extra_forbidden', msg: () => 'Extra inputs are not permitted' }],
  ['isInt', { type: 'int_type', msg: () => 'Input should be a valid integer' }],
  ['isString', { type: 'string_type', msg: () => 'Input should be a valid string' }],
  ['isBoolean', { type: 'bool_type', msg: () => 'Input should be a valid boolean' }],
  [
    'isObject',
    { type: 'model_attributes_type', msg: () => 'Input should be a valid dictionary or object to extract fields from' },
  ],
  ['isIn', { type: 'enum', msg: ([values]) => `Input should be ${formatChoices(values as unknown[])}` }],
  [
    'minLength',
    {
      type: 'string_too_short',
      msg: ([n]) => `String should have at least ${String(n)} character${n === 1 ? '' : 's'}`,
    },
  ],
  ['maxLength', { type: 'string_too_long', msg: ([n]) => `String should have at most ${String(n)} characters` }],
  ['min', { type: 'greater_than_equal', msg: ([n]) => `Input should be greater than or equal to ${String(n)}` }],
  ['max', { type: 'less_than_equal', msg: ([n]) => `Input should be less than or equal to ${String(n)}` }],
  ['matches', { type: 'string_pattern_mismatch', msg: () => 'String does not match the expected pattern' }],
];
const RULE_ORDER = new Map(RULES.map(([name], index) => [name, index]));
const RULE_BY_NAME = new Map(RULES);

function formatChoices(values: unknown[]): string {
  const quoted = values.map((v) => `'${String(v)}'`);
  return quoted.length <= 1 ? quoted.join('') : `${quoted.slice(0, -1).join(', ')} or ${quoted[quoted.length - 1]}`;
}

/** Constraint arguments (e.g. the bound of `@Max(10)`), cached per class and property. */
const constraintCache = new WeakMap<object, Map<string, unknown[]>>();

function constraintsOf(target: object, property: string, name: string): unknown[] {
  let byKey = constraintCache.get(target);
  if (!byKey) {
    byKey = new Map();
    const metadatas = getMetadataStorage().getTargetValidationMetadatas(target as never, '', true, false);
    for (const metadata of metadatas) {
      if (metadata.name) byKey.set(`${metadata.propertyName}:${metadata.name}`, metadata.constraints ?? []);
    }
    constraintCache.set(target, byKey);
  }
  return byKey.get(`${property}:${name}`) ?? [];
}

/** Order custom constraints (named after their pydantic type) after the built-in type checks. */
function rank(name: string): number {
  return (
    RULE_ORDER.get(name) ??
    (name.startsWith('url_') ? 100 + ['url_parsing', 'url_scheme', 'url_host_not_allowed'].indexOf(name) : 50)
  );
}

/** Flattens class-validator's error tree into field errors with full `loc` paths. */
export function toFieldErrors(errors: ClassValidatorError[], loc: (string | number)[]): FieldError[] {
  const result: FieldError[] = [];
  for (const error of errors) {
    // An error about a value itself (an array's element, say) names no property: the path stops at the value.
    const path =
      error.property === undefined
        ? loc
        : [...loc, /^\d+$/.test(error.property) ? Number(error.property) : error.property];
    const names = Object.keys(error.constraints ?? {});
    if (names.length > 0) {
      const first = names.sort((a, b) => rank(a) - rank(b))[0];
      const rule = RULE_BY_NAME.get(first);
      const target = (error.target?.constructor ??
        (Object.getPrototypeOf(error.target ?? {}) as object | null)?.constructor) as object | undefined;
      result.push({
        loc: path,
        msg: rule ? rule.msg(target ? constraintsOf(target, error.property, first) : []) : error.constraints![first],
        type: rule?.type ?? first,
      });
    }
    if (error.children?.length) result.push(...toFieldErrors(error.children, path));
  }
  return result;
}
