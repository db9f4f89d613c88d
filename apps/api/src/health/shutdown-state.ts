import { Injectable } from '@nestjs/common';

/** Flipped as soon as SIGTERM arrives, so readiness fails before connections stop being accepted. */
@Injectable()
export class ShutdownState {
  shuttingDown = false;
}
