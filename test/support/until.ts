/**
 * The one way a test waits for something to happen: re-checks `check` until it answers a
 * truthy value, and returns it; fails naming `what` past `withinMs`. Never a proof that
 * something did not happen (drain the job queue, or use a clock, for that).
 */
export async function until<T>(
  what: string,
  check: () => T | undefined | null | false | Promise<T | undefined | null | false>,
  withinMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + withinMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`still waiting, after ${withinMs} ms, for: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
