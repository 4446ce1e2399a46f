import type { Credential, SessionStore } from '../sessions/SessionStore.js'
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
  const { redis } = options
  const prefix = options.prefix ?? 'payfetch:session:'
  return {
    async get(key) {
      const raw = await redis.get(prefix + key)
      return raw === null ? undefined : (JSON.parse(raw) as Credential)
    },
    async set(key, credential) {
      const ttl = credential.expiresAt === undefined ? undefined : credential.expiresAt - Date.now()
      if (ttl !== undefined && ttl <= 0) return
      await (ttl === undefined ? redis.set(prefix + key, JSON.stringify(credential)) : redis.set(prefix + key, JSON.stringify(credential), 'PX', ttl))
    },
    async delete(key) {
      await redis.del(prefix + key)
    },
  }
}
