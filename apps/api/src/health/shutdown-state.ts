import { Injectable } from '@nestjs/common';

/** Flipped when shutdown begins, so readiness fails before connections stop being accepted. */
@Injectable()
export class ShutdownState {
  shuttingDown = false;
}
