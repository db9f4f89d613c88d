/** A failure that no retry can fix (e.g. an event for an org we do not know): recorded, answered 2xx. */
export class PermanentFailure extends Error {}
