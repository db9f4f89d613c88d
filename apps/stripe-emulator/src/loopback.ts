import { isIP } from 'node:net';

/** True for 127.0.0.0/8, ::1 (and its IPv4-mapped forms) and `localhost`. */
export function isLoopbackHost(host: string): boolean {
  const h = host
    .trim()
    .toLowerCase()
    .replace(/^\[(.*)\]$/, '$1');
  if (h === 'localhost') return true;
  if (h === '::1' || h === '0:0:0:0:0:0:0:1') return true;
  const v4 = h.startsWith('::ffff:') ? h.slice(7) : h;
  return isIP(v4) === 4 && v4.split('.')[0] === '127';
}

export class BindRefusedError extends Error {
  constructor(host: string) {
    super(
      `Refusing to bind the Stripe emulator to non-loopback host "${host}": it accepts any API key and has no authentication. ` +
        'Set STRIPE_EMULATOR_ALLOW_REMOTE=true (allowRemote: true) to allow it.',
    );
    this.name = 'BindRefusedError';
  }
}

export function assertBindable(host: string, allowRemote: boolean): void {
  if (!allowRemote && !isLoopbackHost(host)) throw new BindRefusedError(host);
}
