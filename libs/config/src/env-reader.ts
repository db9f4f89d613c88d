/**
 * Reads typed values out of an environment map and collects every problem, so a bad
 * deployment fails once with all its mistakes named instead of one per restart.
 */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration: ${problems.join('; ')}`);
    this.name = 'ConfigError';
  }
}

export type Env = Record<string, string | undefined>;

export class EnvReader {
  readonly problems: string[] = [];

  constructor(private readonly env: Env) {}

  /** The raw value, trimmed; empty counts as unset. */
  raw(name: string): string | undefined {
    const value = this.env[name]?.trim();
    return value === undefined || value === '' ? undefined : value;
  }

  string(name: string, fallback: string): string;
  string(name: string): string | undefined;
  string(name: string, fallback?: string): string | undefined {
    return this.raw(name) ?? fallback;
  }

  int(name: string, fallback: number, { min = 0, max = Number.MAX_SAFE_INTEGER } = {}): number {
    const value = this.raw(name);
    if (value === undefined) return fallback;
    if (!/^-?\d+$/.test(value) || Number(value) < min || Number(value) > max) {
      return this.fail(name, `an integer from ${min} to ${max}`, value, fallback);
    }
    return Number(value);
  }

  /** `365d`, `12h`, `90m` or `3600s`, in seconds; unset (or `never`): undefined. */
  durationSeconds(name: string): number | undefined {
    const value = this.raw(name);
    if (value === undefined || value === 'never') return undefined;
    const match = /^(\d{1,9})([smhd])$/.exec(value);
    if (!match || Number(match[1]) === 0) {
      return this.fail(name, 'a duration such as 365d, 12h, 90m or 3600s (or never)', value, undefined);
    }
    return Number(match[1]) * { s: 1, m: 60, h: 3600, d: 86400 }[match[2] as 's' | 'm' | 'h' | 'd'];
  }

  bool(name: string, fallback: boolean): boolean {
    const value = this.raw(name)?.toLowerCase();
    if (value === undefined) return fallback;
    if (['true', '1', 'yes'].includes(value)) return true;
    if (['false', '0', 'no'].includes(value)) return false;
    return this.fail(name, 'true or false', value, fallback);
  }

  oneOf<T extends string>(name: string, choices: readonly T[], fallback: T): T {
    const value = this.raw(name);
    if (value === undefined) return fallback;
    if (!(choices as readonly string[]).includes(value)) {
      return this.fail(name, `one of ${choices.join(', ')}`, value, fallback);
    }
    return value as T;
  }

  url(name: string, { protocols = ['http:', 'https:'] } = {}): URL | undefined {
    const value = this.raw(name);
    if (value === undefined) return undefined;
    try {
      const url = new URL(value);
      if (protocols.includes(url.protocol)) return url;
    } catch {
      // reported below
    }
    // A URL may carry credentials: name its scheme only.
    return this.fail(name, `a URL (${protocols.join(' or ')})`, value.split(':')[0] + '://…', undefined);
  }

  list(name: string, fallback: string[] = []): string[] {
    const value = this.raw(name);
    if (value === undefined) return fallback;
    return value
      .split(',')
      .map((item) => item.trim())
      .filter((item) => item !== '');
  }

  /** Records a problem in the variable's own words; secrets are never echoed. */
  problem(name: string, message: string): void {
    this.problems.push(`${name} ${message}`);
  }

  fail<T>(name: string, expected: string, got: string, fallback: T): T {
    this.problems.push(`${name} must be ${expected} (got "${got}")`);
    return fallback;
  }

  assertValid(): void {
    if (this.problems.length > 0) throw new ConfigError(this.problems);
  }
}
