// Turning bytes into checked request values and checked values into responses. Every refusal is a
// WeftError whose message names the method and the field, because dockerd shows it to the user as
// `<Interface>.<Method>: <message>` (docker-plugin-protocol.md §5).

import type { z } from 'zod';
import { ErrorCodes, WeftError } from '../model/errors.js';
import { METHODS, type MethodName, type RequestOf, type ResponseOf } from './wire.js';

/** `IPv4Data[0].Pool`, `Options["com.docker.network.generic"]`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else if (typeof key === 'string' && /^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) out += out === '' ? key : `.${key}`;
    else out += `[${JSON.stringify(String(key))}]`;
  }
  return out;
}

/** zod's "Invalid input: expected string, received undefined" reads better as "required". */
function issueText(issue: z.core.$ZodIssue): string {
  const msg = issue.message.replace(/^Invalid input: /, '');
  if (issue.code === 'invalid_type' && msg.endsWith('received undefined')) return `required (${msg.replace(/, received undefined$/, '')})`;
  return msg;
}

export function formatIssues(issues: readonly z.core.$ZodIssue[]): string {
  return issues
    .slice(0, 5)
    .map((i) => {
      const where = formatPath(i.path);
      return where === '' ? issueText(i) : `${where}: ${issueText(i)}`;
    })
    .join('; ')
    .concat(issues.length > 5 ? `; and ${issues.length - 5} more` : '');
}

export function badRequest(method: string, why: string): WeftError {
  return new WeftError(ErrorCodes.BAD_REQUEST, `invalid request body for ${method}: ${why}`);
}

/** The body as sent (UTF-8 text) -> JSON value. Empty text -> undefined. */
export function parseJsonBody(method: string, text: string): unknown {
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw badRequest(method, `not valid JSON (${e instanceof Error ? e.message : String(e)})`);
  }
}

/** Checks a parsed body against the method's request schema. */
export function decodeRequest<M extends MethodName>(method: M, body: unknown): RequestOf<M> {
  if (body === undefined) throw badRequest(method, 'empty body, expected a JSON object');
  const schema = METHODS[method].request as unknown as z.ZodType<RequestOf<M>>;
  const res = schema.safeParse(body);
  if (!res.success) {
    throw badRequest(method, formatIssues(res.error.issues));
  }
  return res.data;
}

/** Checks an answer before it goes to dockerd: a malformed answer is weft's bug, and dockerd's own
 *  parse error for it ("unable to parse Gateway") would hide where it came from. */
export function encodeResponse<M extends MethodName>(method: M, value: ResponseOf<M>): ResponseOf<M> {
  const schema = METHODS[method].response as unknown as z.ZodType<ResponseOf<M>>;
  const res = schema.safeParse(value);
  if (!res.success) {
    throw new WeftError(ErrorCodes.INTERNAL, `weft built an invalid ${method} response: ${formatIssues(res.error.issues)}`, {
      details: { method },
    });
  }
  return res.data;
}
