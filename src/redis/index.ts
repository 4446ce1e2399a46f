/**
 * payfetch/redis: a ledger and a session store in Redis, shared by every process of a fleet.
 * `ioredis` (or any client with the same methods) is an optional peer dependency.
 *
 * @module
 */
export type { RedisClient } from './redisClient.js'
export { ledgerKeyPrefix, type RedisLedgerOptions, redisLedger } from './redisLedger.js'
export { type RedisSessionsOptions, redisSessions } from './redisSessions.js'
