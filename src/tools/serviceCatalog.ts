import { unpaid } from './ToolFailure.js'

/**
 * One paid service an agent may call by name. `headers` values may hold `${ENV_NAME}`, expanded at
 * call time and never shown to the model; `PAYFETCH_*` names (payfetch's keys and settings) are refused. `{{input}}` in `url` (URL-encoded) and in `body` is
 * replaced by the caller's input; a JSON `body` gets it inside its strings, escaped.
 */
export type ServiceEntry = {
  readonly name: string
  readonly description?: string | undefined
  readonly url: string
  /** Default: `POST` when there is a body template, else `GET`. */
  readonly method?: string | undefined
  readonly headers?: Readonly<Record<string, string>> | undefined
  /** A text template, or a JSON value whose strings are templates. */
  readonly body?: unknown
  /**
   * `query`: the caller's input is a query string (`city=Paris&days=5`) added to the URL's own
   * parameters, for services that take their input there.
   */
  readonly inputIn?: 'query' | undefined
}

/** A request ready to send: secrets expanded, input placed. */
export type ServiceRequest = {
  readonly method: string
  readonly url: string
  readonly headers: Record<string, string>
  readonly body?: string | undefined
}

const namePattern = /^[A-Za-z0-9_.-]{1,64}$/
const variablePattern = /\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g
// payfetch's own settings: wallet keys (PAYFETCH_EVM_PRIVATE_KEY, PAYFETCH_NWC_URL, ...) and limits.
// A catalog, perhaps copied from a service's page, must not send one of them to a server.
const reserved = /^PAYFETCH_/i

/**
 * Validates a catalog (`{ "services": [...] }` or a bare array), as read from a JSON file.
 *
 * @example
 * ```ts
 * import { parseServiceCatalog } from 'payfetch/tools'
 *
 * const services = parseServiceCatalog({
 *   services: [{ name: 'summarize', url: 'https://api.example.com/summarize', body: { text: '{{input}}' },
 *                headers: { authorization: 'Bearer ${EXAMPLE_KEY}' } }],
 * })
 * ```
 *
 * @throws {Error} naming the first entry that is not usable.
 */
export function parseServiceCatalog(value: unknown): ServiceEntry[] {
  const list = Array.isArray(value) ? value : (value as { services?: unknown } | null)?.services
  if (!Array.isArray(list)) throw new Error('The service catalog must be {"services": [...]} or an array.')
  const names = new Set<string>()
  return list.map((raw, index) => {
    const entry = raw as Record<string, unknown> | null
    const where = `services[${index}]`
    if (typeof entry !== 'object' || entry === null) throw new Error(`${where} must be an object.`)
    const { name, description, url, method, headers, body, inputIn } = entry
    if (typeof name !== 'string' || !namePattern.test(name))
      throw new Error(`${where}.name must be 1-64 letters, digits, "_", "." or "-".`)
    if (names.has(name)) throw new Error(`${where}.name "${name}" is used twice.`)
    names.add(name)
    if (typeof url !== 'string' || !/^https?:\/\//.test(url)) throw new Error(`${where}.url must be an http(s) URL.`)
    if (method !== undefined && (typeof method !== 'string' || !/^[A-Za-z]{1,16}$/.test(method)))
      throw new Error(`${where}.method must be an HTTP method.`)
    if (description !== undefined && typeof description !== 'string')
      throw new Error(`${where}.description must be text.`)
    if (
      headers !== undefined &&
      (typeof headers !== 'object' ||
        headers === null ||
        Object.values(headers).some((header) => typeof header !== 'string'))
    )
      throw new Error(`${where}.headers must map names to text.`)
    if (inputIn !== undefined && inputIn !== 'query') throw new Error(`${where}.inputIn must be "query".`)
    const secret = Object.values(headers ?? {})
      .flatMap((value: string) => [...value.matchAll(variablePattern)])
      .map((match) => match[1] as string)
      .find((variable) => reserved.test(variable))
    if (secret) throw new Error(`${where}.headers may not use \${${secret}}: PAYFETCH_* variables are payfetch's own.`)
    return {
      name,
      url,
      ...(description === undefined ? {} : { description }),
      ...(method === undefined ? {} : { method: method.toUpperCase() }),
      ...(headers === undefined ? {} : { headers: headers as Record<string, string> }),
      ...(body === undefined ? {} : { body }),
      ...(inputIn === undefined ? {} : { inputIn }),
    }
  })
}

/**
 * The request for one call: `${ENV}` expanded in headers from `env`, `{{input}}` placed.
 *
 * @throws {ToolFailureError} `SERVICE_MISCONFIGURED` naming a missing or `PAYFETCH_*` variable (never its value).
 */
export function serviceRequest(
  service: ServiceEntry,
  input: string,
  env: Readonly<Record<string, string | undefined>>,
): ServiceRequest {
  const headers: Record<string, string> = {}
  for (const [name, template] of Object.entries(service.headers ?? {}))
    headers[name] = template.replace(variablePattern, (_, variable: string) => {
      if (reserved.test(variable))
        throw unpaid(
          'SERVICE_MISCONFIGURED',
          `Service "${service.name}" may not use ${variable}: it is payfetch's own.`,
        )
      const value = env[variable]
      if (value === undefined || value === '')
        throw unpaid('SERVICE_MISCONFIGURED', `Service "${service.name}" needs the environment variable ${variable}.`)
      return value
    })
  let url = service.url.replaceAll('{{input}}', encodeURIComponent(input))
  if (service.inputIn === 'query' && input !== '') {
    const withQuery = new URL(url)
    for (const [name, value] of new URLSearchParams(input)) withQuery.searchParams.append(name, value)
    url = withQuery.href
  }
  let body: string | undefined
  if (typeof service.body === 'string') body = service.body.replaceAll('{{input}}', input)
  else if (service.body !== undefined) {
    body = JSON.stringify(service.body, (_, value: unknown) =>
      typeof value === 'string' ? value.replaceAll('{{input}}', input) : value,
    )
    if (!Object.keys(headers).some((name) => name.toLowerCase() === 'content-type'))
      headers['content-type'] = 'application/json'
  }
  return { method: service.method ?? (body === undefined ? 'GET' : 'POST'), url, headers, body }
}
