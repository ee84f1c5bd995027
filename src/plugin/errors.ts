// How a failure travels back to dockerd. Always HTTP 500 with {"Err": "..."}, for both plugin
// kinds: an IPAM answer of 200 + {"Err"} is taken as *success* by dockerd (its in-band IPAM error
// field is `Error`), and a non-200 status works for NetworkDriver and IpamDriver alike (§3, §5).
// 404 is reserved for "no such method" (dockerd reads it as "not implemented").

import { toWeftError, type WeftError } from '../model/errors.js';

export const PLUGIN_ERROR_STATUS = 500;
export const PLUGIN_UNKNOWN_METHOD_STATUS = 404;

/** dockerd prints this after `<Interface>.<Method>: `; the code lets users look it up in docs/errors.md. */
export function pluginErrorMessage(e: WeftError): string {
  return `${e.message} [${e.code}]`;
}

export function pluginErrorBody(e: unknown): { Err: string } {
  return { Err: pluginErrorMessage(toWeftError(e)) };
}
