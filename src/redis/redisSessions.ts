import { PayfetchError } from '../errors/PayfetchError.js'
import type { SessionStore, SessionToken } from '../sessions/SessionStore.js'
import type { RedisClient } from './redisClient.js'

export type RedisSessionsOptions = {
  redis: RedisClient
  /** Key prefix. Default `payfetch:session:`. */
  prefix?: string | undefined
}

// Renews or deletes the lock only while it still holds this taker's token.
const renewScript = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0`
const releaseScript = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`

/**
 * Sessions in Redis: a token one process paid for is reused by every process sharing the prefix.
 * Credentials with an expiry get a Redis TTL, so they vanish on time. The lock payfetch takes per
 * origin before paying for a token is `<prefix>lock:<origin>`, set with `SET NX PX` and a random
 * token, renewed and released by scripts that check that token; a dead holder's lock expires.
 * Every command touches one key, so a Redis Cluster client works as it is.
 *
 * @example
 * ```ts
 * import Redis from 'ioredis'
 * import { redisSessions } from 'payfetch/redis'
 *
 * const sessions = redisSessions({ redis: new Redis(process.env.REDIS_URL!) })
 * ```
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
      if (raw === null) return undefined
      const credential = JSON.parse(raw) as SessionToken
      // Redis's TTL runs on its clock: checked on ours too, as the other stores do.
      return credential.expiresAt !== undefined && credential.expiresAt <= Date.now() ? undefined : credential
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
    async lock(key, ttlMs) {
      const name = `${prefix}lock:${key}`
      const token = crypto.randomUUID()
      if ((await redis.set(name, token, 'PX', ttlMs, 'NX')) === null) return undefined
      return {
        renew: async () => (await redis.eval(renewScript, 1, name, token, ttlMs)) === 1,
        release: async () => {
          await redis.eval(releaseScript, 1, name, token)
        },
      }
    },
  }
}
