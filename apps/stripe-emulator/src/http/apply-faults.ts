import { Faults } from '../controls/fault-rules';
import type { EmulatorState } from '../emulator-state';
import { errorAnswer, requestId, type Exchange } from './exchange';

/**
 * The first stage: the first fault rule matching the request waits its `delay_ms` (unless it
 * holds an API request's idempotency key, see `holdLock`), then drops the connection or
 * answers its error. False when the request ends here.
 */
export async function passFaults(state: EmulatorState, exchange: Exchange): Promise<boolean> {
  const fault = state.faults.take(exchange.method, exchange.path);
  exchange.fault = fault;
  if (!fault) return true;
  const holdsLock = fault.hold_lock && exchange.path.startsWith('/v1/');
  if (fault.delay_ms > 0 && !holdsLock && !(await state.sleep(fault.delay_ms))) return false;
  if (fault.drop) {
    exchange.drop();
    return false;
  }
  if (fault.status !== null) {
    exchange.reply(errorAnswer(Faults.error(fault), { 'content-type': 'application/json', 'request-id': requestId() }));
    return false;
  }
  return true;
}

/**
 * A `hold_lock` fault's delay, taken once the request holds its idempotency key, as a slow
 * request would. False when the emulator closed meanwhile.
 */
export async function holdLock(state: EmulatorState, exchange: Exchange): Promise<boolean> {
  const fault = exchange.fault;
  if (!fault?.hold_lock || fault.delay_ms <= 0) return true;
  return state.sleep(fault.delay_ms);
}
