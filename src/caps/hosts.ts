/**
 * Whether the URL's host matches a pattern: `api.example.com` (that host, any port),
 * `api.example.com:8443` (that host and port) or `*.example.com` (any subdomain).
 */
export function hostMatches(url: URL, pattern: string): boolean {
  const wanted = /^(\*\.)?(\[[^\]]*\]|[^:]*)(?::([0-9]+))?$/.exec(pattern.toLowerCase())
  // A pattern that is not a host (e.g. IPv6 without brackets) matches nothing.
  if (!wanted) return false
  const [, wildcard, host = '', port] = wanted
  // `https://api.example.com` has no explicit port, yet it is `api.example.com:443`.
  if (port !== undefined && Number(port) !== effectivePort(url)) return false
  // `api.example.com.` (with the root dot) is the same host as `api.example.com`.
  const hostname = withoutRootDot(url.hostname)
  const suffix = withoutRootDot(host)
  return wildcard ? hostname.endsWith(`.${suffix}`) : hostname === suffix
}

function effectivePort(url: URL): number | undefined {
  if (url.port !== '') return Number(url.port)
  return url.protocol === 'https:' || url.protocol === 'wss:'
    ? 443
    : url.protocol === 'http:' || url.protocol === 'ws:'
      ? 80
      : undefined
}

const withoutRootDot = (host: string) => (host.endsWith('.') ? host.slice(0, -1) : host)
