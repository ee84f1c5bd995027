// Injection tokens for services that have no interface file of their own (the composition root in
// src/daemon binds them).

/** The pino root logger; components call `.child({ component })`. */
export const LoggerToken = Symbol.for('weft.Logger');
/** The parsed daemon configuration (src/daemon/config.ts). */
export const ConfigToken = Symbol.for('weft.Config');
