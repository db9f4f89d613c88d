/**
 * Values that validation rules need from configuration (e.g. the redirect-host allow-list),
 * handed to class-validator constraints through the object being validated instead of a
 * process-wide container, so two apps with different settings never share rules.
 */
export type ValidationContext = Record<string, unknown>;

export const VALIDATION_CONTEXT = Symbol('VALIDATION_CONTEXT');

const CONTEXT_KEY = Symbol('validationContext');

export function attachValidationContext(target: object, context: ValidationContext): void {
  Object.defineProperty(target, CONTEXT_KEY, { value: context, enumerable: false });
}

export function validationContextOf(target: object): ValidationContext {
  return ((target as Record<symbol, unknown>)[CONTEXT_KEY] as ValidationContext | undefined) ?? {};
}
