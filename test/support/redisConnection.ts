import { Cluster, Redis } from 'ioredis'

/**
 * A client for the Redis a worker is told about: `REDIS_CLUSTER` (comma-separated host:port of
 * cluster nodes) gives an ioredis `Cluster`, else `REDIS_URL` a plain connection.
 */
export function redisFromEnv(): Redis | Cluster {
  const cluster = process.env.REDIS_CLUSTER
  if (cluster)
    return new Cluster(
      cluster.split(',').map((node) => {
        const [host = '127.0.0.1', port = '6379'] = node.split(':')
        return { host, port: Number(port) }
      }),
    )
  const url = process.env.REDIS_URL
  if (!url) throw new Error('REDIS_URL or REDIS_CLUSTER must be set')
  return new Redis(url)
}
