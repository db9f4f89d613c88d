export type DatabaseTarget = { kind: 'pglite-dir' } | { kind: 'pglite-memory' } | { kind: 'postgres'; url: string };

/**
 * Classifies `DATABASE_URL`. The error names only the scheme: the URL may carry a password.
 */
export function parseDatabaseUrl(url: string | undefined): DatabaseTarget {
  const value = (url ?? '').trim();
  if (value === '') return { kind: 'pglite-dir' };
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(value)?.[1]?.toLowerCase();
  if (scheme === 'memory') return { kind: 'pglite-memory' };
  if ((scheme === 'postgres' || scheme === 'postgresql') && value.slice(scheme.length + 1).startsWith('//')) {
    return { kind: 'postgres', url: value };
  }
  const got = scheme === undefined ? 'a value without a scheme' : `"${scheme}://"`;
  throw new Error(`DATABASE_URL must be postgres://…, postgresql://… or memory:// (got ${got})`);
}

/** `host:port/database` of a PostgreSQL URL, for messages: never the user or password. */
export function describePostgresUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname || 'localhost'}:${u.port || '5432'}${u.pathname || '/'}`;
  } catch {
    return 'the configured server';
  }
}
