// Small helpers drivers share for option checking. Pure.

import { ErrorCodes, WeftError } from '../model/errors.js';

/** Refuses any option key a driver does not know, naming the driver and the keys it takes. */
export function refuseUnknownOptions(driver: string, options: Record<string, string>, known: readonly string[]): void {
  const unknown = Object.keys(options).filter((k) => !known.includes(k));
  if (unknown.length > 0) {
    const takes = known.length ? `it takes: ${known.join(', ')}` : 'it takes none';
    throw new WeftError(ErrorCodes.INVALID_OPTION, `driver ${driver} does not know option ${unknown.map((k) => JSON.stringify(k)).join(', ')}: ${takes}`, {
      details: { unknown },
    });
  }
}
