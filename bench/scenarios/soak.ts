import { median, runLoad } from '../load';
import { log } from '../log';
import { mib, sampleRow, type Row } from '../table-rows';
import { authHeaders, checkoutLoad, creditsPath } from '../requests';
import type { FullGc } from '../full-gc';
import type { Stack } from '../stack';

export interface SoakResult {
  row: Row;
  seconds: number;
  samples: { t: number; rss: number }[];
  rssAfterFirstMinute: number;
  rssAtEnd: number;
  /** Full collections during the soak, `t` in seconds from its start. */
  fullGcs: FullGc[];
  /** Medians of the live heap after full collections, in bytes (null: none in that minute). */
  liveHeapFirstMinute: number | null;
  liveHeapLastMinute: number | null;
}

/**
 * Checkout and balance, alternately on every connection, sampling the API's RSS every 10 s.
 * The target compares two RSS samples, which swing by tens of MiB with where V8's heap is in
 * its collection cycle; the live heap after full collections is what shows a leak.
 */
export async function soakScenario({ api, seeded, fullGcs: allFullGcs }: Stack, seconds: number): Promise<SoakResult> {
  log(`soak: ${seconds} s of checkout + balance`);
  const orgPath = creditsPath(seeded.orgSlug);
  const checkout = checkoutLoad(api.url, `${orgPath}/checkout`, seeded.key).requests[0];
  const samples: { t: number; rss: number }[] = [];
  const t0 = Date.now();
  const sample = () => {
    const rss = api.rss();
    if (rss !== undefined) samples.push({ t: Math.round((Date.now() - t0) / 1000), rss });
  };
  sample();
  const timer = setInterval(() => {
    sample();
    const last = samples[samples.length - 1];
    if (last) log(`soak t=${last.t}s rss ${mib(last.rss)} MiB`);
  }, 10_000);
  const result = await runLoad(
    {
      url: api.url,
      expect: [200],
      requests: [checkout, { method: 'GET', path: orgPath, headers: authHeaders(seeded.key) }],
    },
    { seconds },
  );
  clearInterval(timer);
  sample();
  const afterMinute = samples.find((s) => s.t >= Math.min(60, seconds / 2)) ?? samples[0];
  const end = samples[samples.length - 1];
  const growth = end.rss / afterMinute.rss - 1;
  const fullGcs = allFullGcs
    .filter((gc) => gc.t >= t0)
    .map((gc) => ({ t: Math.round((gc.t - t0) / 1000), liveBytes: gc.liveBytes }));
  const window = Math.min(60, seconds / 2);
  const liveMedian = (gcs: FullGc[]) => (gcs.length ? median(gcs.map((gc) => gc.liveBytes)) : null);
  return {
    row: sampleRow(
      `soak ${seconds}s (checkout+balance)`,
      result,
      `RSS end ≤ +10% of 1st min (${(growth * 100).toFixed(1)}%)`,
      growth <= 0.1,
    ),
    seconds,
    samples,
    rssAfterFirstMinute: afterMinute.rss,
    rssAtEnd: end.rss,
    fullGcs,
    liveHeapFirstMinute: liveMedian(fullGcs.filter((gc) => gc.t < window)),
    liveHeapLastMinute: liveMedian(fullGcs.filter((gc) => gc.t >= seconds - window)),
  };
}
