import { hasSqlState, isDeadlock, isUniqueViolation } from '@credits/database';

describe('PostgreSQL errors by SQLSTATE', () => {
  it('finds the code on the error or anywhere along its causes (Drizzle wraps the driver error)', () => {
    const driver = Object.assign(new Error('duplicate key value'), { code: '23505' });
    const wrapped = new Error('Failed query: insert …', { cause: driver });
    expect(isUniqueViolation(driver)).toBe(true);
    expect(isUniqueViolation(wrapped)).toBe(true);
    expect(isDeadlock(wrapped)).toBe(false);
    expect(isDeadlock(new Error('x', { cause: { code: '40P01' } }))).toBe(true);
    expect(hasSqlState(new Error('no code'), '23505')).toBe(false);
    expect(hasSqlState(undefined, '23505')).toBe(false);
  });
});
