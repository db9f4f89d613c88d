import { Injectable } from '@nestjs/common';

/**
 * Flipped as soon as SIGTERM arrives: readiness fails before connections stop being accepted,
 * and every answer from then on closes its connection (`drainOnShutdown`).
 */
@Injectable()
export class ShutdownState {
  shuttingDown = false;
}
