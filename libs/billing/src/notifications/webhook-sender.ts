import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { TargetPolicy } from './target-url';

/** What one POST came to: a status, or the reason none came back. */
export type SendOutcome = { ok: true; status: number } | { ok: false; status: number | null; error: string };

/**
 * POSTs one signed event. Any 2xx is delivered; anything else (another status, a redirect,
 * which is never followed, a refused target, a timeout, a network error) is a failed attempt.
 */
export function postEvent(
  policy: TargetPolicy,
  target: string,
  body: string,
  headers: Record<string, string>,
  timeoutMs: number,
): Promise<SendOutcome> {
  let url: URL;
  try {
    url = policy.check(target);
  } catch (error) {
    return Promise.resolve({ ok: false, status: null, error: (error as Error).message });
  }
  const request = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise<SendOutcome>((resolve) => {
    const req = request(
      url,
      {
        method: 'POST',
        lookup: policy.lookup,
        timeout: timeoutMs,
        headers: {
          'content-type': 'application/json',
          'content-length': String(Buffer.byteLength(body)),
          'user-agent': 'credits-api-notifications/1',
          ...headers,
        },
      },
      (res) => {
        // The answer's body is not ours to keep; drain it so the socket is freed.
        res.resume();
        const status = res.statusCode ?? 0;
        res.on('end', () =>
          resolve(
            status >= 200 && status < 300 ? { ok: true, status } : { ok: false, status, error: `HTTP ${status}` },
          ),
        );
        res.on('error', (error) => resolve({ ok: false, status, error: error.message }));
      },
    );
    const deadline = setTimeout(() => req.destroy(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    req.on('close', () => clearTimeout(deadline));
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', (error) => resolve({ ok: false, status: null, error: error.message }));
    req.end(body);
  });
}
