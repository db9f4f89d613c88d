/** A V8 mark-compact: the heap still in use after it. */
export interface FullGc {
  t: number;
  liveBytes: number;
}

/** `[pid:0x…]  37963 ms: Mark-Compact 73.0 (105.0) -> 36.4 (94.0) MB, …` from --trace-gc. */
export function recordFullGc(line: string, into: FullGc[]): void {
  const match = /Mark-Compact [\d.]+ \([\d.]+\) -> ([\d.]+) \(/.exec(line);
  if (match) into.push({ t: Date.now(), liveBytes: Math.round(Number(match[1]) * 2 ** 20) });
}
