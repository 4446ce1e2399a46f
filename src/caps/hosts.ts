/**
 * Whether the URL's host matches a pattern: `api.example.com` (that host, any port),
 * `api.example.com:8443` (that host and port) or `*.example.com` (any subdomain). Both sides are
 * compared in one spelling: lower case, IDN as punycode, IPv4 in dotted decimal (also when written
 * `2130706433`, `127.1` or as an IPv4-mapped IPv6 address), without the root dot.
 */
export function hostMatches(url: URL, pattern: string): boolean {
  const wanted = /^(\*\.)?(\[[^\]]*\]|[^:]*)(?::([0-9]+))?$/.exec(pattern)
  // A pattern that is not a host (e.g. IPv6 without brackets) matches nothing.
  if (!wanted) return false
  const [, wildcard, host = '', port] = wanted
  // `https://api.example.com` has no explicit port, yet it is `api.example.com:443`.
  if (port !== undefined && Number(port) !== effectivePort(url)) return false
  const hostname = canonicalHost(url.hostname)
  const suffix = canonicalHost(host)
  if (hostname === undefined || suffix === undefined) return false
  return wildcard ? hostname.endsWith(`.${suffix}`) : hostname === suffix
}

/** `url`'s host and port in the spelling {@link hostMatches} compares: what a per-host budget is kept under. */
export function hostKey(url: URL): string {
  return (canonicalHost(url.hostname) ?? url.hostname) + (url.port && `:${url.port}`)
}

/** One spelling per host, as URL parsing gives it, with IPv4-mapped IPv6 written as IPv4. */
function canonicalHost(host: string): string | undefined {
  let hostname: string
  try {
    hostname = new URL(`http://${host}`).hostname
  } catch {
    return undefined
  }
  if (hostname.endsWith('.')) hostname = hostname.slice(0, -1)
  const mapped = /^\[::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})\]$/.exec(hostname)
  if (!mapped) return hostname
  const [high, low] = [Number.parseInt(mapped[1] as string, 16), Number.parseInt(mapped[2] as string, 16)]
  return `${high >> 8}.${high & 255}.${low >> 8}.${low & 255}`
}

function effectivePort(url: URL): number | undefined {
  if (url.port !== '') return Number(url.port)
  return url.protocol === 'https:' || url.protocol === 'wss:'
    ? 443
    : url.protocol === 'http:' || url.protocol === 'ws:'
      ? 80
      : undefined
}
