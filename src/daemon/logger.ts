// The pino root logger. JSON lines by default (for journald and log shippers); pretty output
// when someone watches a terminal at debug level. Components take children of it.

import pino, { type Logger } from 'pino';
import type { DaemonConfig } from './config.js';

export function createRootLogger(level: DaemonConfig['logLevel'], destination?: pino.DestinationStream): Logger {
  const base = { name: 'weftd' };
  if (destination) return pino({ level, base }, destination);
  const pretty = (level === 'debug' || level === 'trace') && process.stdout.isTTY;
  if (pretty) return pino({ level, base, transport: { target: 'pino-pretty', options: { colorize: true } } });
  return pino({ level, base });
}
