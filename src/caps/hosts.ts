/**
 * Whether the URL's host matches a pattern: `api.example.com` (that host, any port),
 * `api.example.com:8443` (that host and port) or `*.example.com` (any subdomain).
 */
export function hostMatches(url: URL, pattern: string): boolean {
  const wanted = pattern.toLowerCase()
  if (wanted.startsWith('*.')) return url.hostname.endsWith(wanted.slice(1))
  return wanted.includes(':') && !wanted.startsWith('[') ? url.host === wanted : url.hostname === wanted || url.host === wanted
}
