import { PayfetchError } from '../errors/PayfetchError.js'
import type { SessionStore, SessionToken } from '../sessions/SessionStore.js'
import type { RedisClient } from './redisClient.js'

export type RedisSessionsOptions = {
  redis: RedisClient
  /** Key prefix. Default `payfetch:session:`. */
  prefix?: string | undefined
}

/**
 * Sessions in Redis: a token one process paid for is reused by every process sharing the prefix.
 * Credentials with an expiry get a Redis TTL, so they vanish on time.
 */
export function redisSessions(options: RedisSessionsOptions): SessionStore {
  const { redis } = options ?? {}
  if (typeof redis?.get !== 'function')
    throw new PayfetchError(
      'INVALID_OPTIONS',
      'Pass a Redis client (ioredis or one with the same methods) as options.redis.',
    )
  const prefix = options.prefix ?? 'payfetch:session:'
  return {
    async get(key) {
      const raw = await redis.get(prefix + key)
      return raw === null ? undefined : (JSON.parse(raw) as SessionToken)
    },
    async set(key, credential) {
      // PX takes whole milliseconds; rounding down never keeps a credential past its expiresAt.
      const ttl = credential.expiresAt === undefined ? undefined : Math.floor(credential.expiresAt - Date.now())
      // Already expired: it still replaces the credential stored before it.
      if (ttl !== undefined && !(ttl > 0)) {
        await redis.del(prefix + key)
        return
      }
      await (ttl === undefined
        ? redis.set(prefix + key, JSON.stringify(credential))
        : redis.set(prefix + key, JSON.stringify(credential), 'PX', ttl))
    },
    async delete(key) {
      await redis.del(prefix + key)
    },
  }
}
