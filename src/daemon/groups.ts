// Group name -> gid from /etc/group (Node has no getgrnam). Used for --socket-group.

import { readFileSync } from 'node:fs';
import { ErrorCodes, WeftError } from '../model/errors.js';

export function parseGroupFile(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const [name, , gid] = line.split(':');
    if (name && gid !== undefined && /^\d+$/.test(gid)) out.set(name, Number(gid));
  }
  return out;
}

export function resolveGid(group: string, groupFile = '/etc/group'): number {
  if (/^\d+$/.test(group)) return Number(group);
  const gid = parseGroupFile(readFileSync(groupFile, 'utf8')).get(group);
  if (gid === undefined) throw new WeftError(ErrorCodes.INVALID_OPTION, `invalid socket-group: no group named ${JSON.stringify(group)} in ${groupFile}`);
  return gid;
}
