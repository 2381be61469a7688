/** The log levels and formats `serve` accepts (pino's levels, plus silent). */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const

/** One of LOG_LEVELS. */
export type LogLevel = (typeof LOG_LEVELS)[number]

/** JSON lines, or one plain line per entry for a terminal. */
export type LogFormat = 'json' | 'pretty'
