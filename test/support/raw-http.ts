import { connect } from 'node:net';

/**
 * HTTP/1.1 over a bare socket, for requests no well-behaved client would send (fetch and
 * node:http refuse them before they leave): a malformed head, a header twice, bytes that
 * are not percent-encoding, no Host. Node's HTTP parser in the server sees them as sent.
 */

export interface RawRequest {
  method: string;
  /** The request target as written on the request line, unchecked. */
  target: string;
  /** In order, duplicates kept; `Host` and `Connection: close` are added unless `bare`. */
  headers?: [string, string][];
  body?: string | Buffer;
  /** Send exactly `headers`: no Host, Connection or Content-Length added. */
  bare?: boolean;
}

export interface RawResponse {
  status: number;
  /** Lower-case names; repeated headers joined with ", ". */
  headers: Record<string, string>;
  text: string;
  /** The body parsed as JSON, or undefined. */
  body: any;
}

export function formatRequest(request: RawRequest): Buffer {
  const body = typeof request.body === 'string' ? Buffer.from(request.body) : request.body;
  const headers = [...(request.headers ?? [])];
  if (!request.bare) {
    headers.unshift(['Host', '127.0.0.1']);
    headers.push(['Connection', 'close']);
    if (body !== undefined) headers.push(['Content-Length', String(body.length)]);
  }
  const head = [`${request.method} ${request.target} HTTP/1.1`, ...headers.map(([name, value]) => `${name}: ${value}`)];
  return Buffer.concat([Buffer.from(`${head.join('\r\n')}\r\n\r\n`, 'latin1'), body ?? Buffer.alloc(0)]);
}

/**
 * Writes the bytes to a new connection and reads the first response until the server
 * closes it (requests carry `Connection: close`, and every refusal closes). Fails when no
 * response comes within `timeoutMs`.
 */
export function sendRaw(baseUrl: string, bytes: Buffer | string, timeoutMs = 10_000): Promise<RawResponse> {
  const { hostname, port } = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname);
    const chunks: Buffer[] = [];
    let settled = false;
    const finish = () => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      const received = Buffer.concat(chunks);
      try {
        resolve(parseResponse(received));
      } catch (error) {
        reject(error instanceof Error ? error : new Error(String(error)));
      }
    };
    const timer = setTimeout(() => {
      settled = true;
      socket.destroy();
      reject(new Error(`no complete response within ${timeoutMs} ms (received ${Buffer.concat(chunks).length} bytes)`));
    }, timeoutMs);
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('end', finish);
    socket.on('close', finish);
    // A reset after the response was received still leaves the response to read.
    socket.on('error', () => undefined);
    socket.write(bytes);
  });
}

export function sendRequest(baseUrl: string, request: RawRequest): Promise<RawResponse> {
  return sendRaw(baseUrl, formatRequest(request));
}

function parseResponse(received: Buffer): RawResponse {
  // Interim answers (100 Continue) come before the response.
  while (/^HTTP\/1\.[01] 1\d\d /.test(received.subarray(0, 13).toString('latin1'))) {
    received = received.subarray(received.indexOf('\r\n\r\n') + 4);
  }
  const split = received.indexOf('\r\n\r\n');
  if (split < 0) throw new Error(`no response head in ${received.length} bytes: ${received.toString('latin1')}`);
  const [statusLine, ...lines] = received.subarray(0, split).toString('latin1').split('\r\n');
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1]);
  if (!Number.isInteger(status)) throw new Error(`not an HTTP status line: ${statusLine}`);
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    headers[name] = name in headers ? `${headers[name]}, ${value}` : value;
  }
  let body = received.subarray(split + 4);
  if (/chunked/i.test(headers['transfer-encoding'] ?? '')) body = dechunk(body);
  else if (headers['content-length'] !== undefined) body = body.subarray(0, Number(headers['content-length']));
  const text = body.toString('utf8');
  let parsed: unknown;
  try {
    parsed = text === '' ? undefined : JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  return { status, headers, text, body: parsed };
}

function dechunk(data: Buffer): Buffer {
  const parts: Buffer[] = [];
  let at = 0;
  for (;;) {
    const lineEnd = data.indexOf('\r\n', at);
    if (lineEnd < 0) break;
    const size = parseInt(data.subarray(at, lineEnd).toString('latin1'), 16);
    if (!(size > 0)) break;
    parts.push(data.subarray(lineEnd + 2, lineEnd + 2 + size));
    at = lineEnd + 2 + size + 2;
  }
  return Buffer.concat(parts);
}
