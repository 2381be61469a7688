/**
 * Config values that cannot work, refused at their key with the maximum or the fix: numbers no
 * process can honour, and credentials or a query in URLs the gateway builds links on or logs.
 */
import { describe, expect, it } from 'vitest'
import { parseConfig } from '../../src/config/index.js'
import { configErrorLines } from '../support/config-problems.js'

const file = '/etc/gw/gateway.yaml'
const problemsOf = (text: string): string[] => configErrorLines(() => parseConfig(file, text, { env: {} }))
const endpoints = 'endpoints: []\n'

describe('URLs the gateway builds links on or logs', () => {
  it('listen.publicUrl with userinfo, a query or a fragment is refused, never showing the password', () => {
    const at = (url: string): string[] => problemsOf(`listen:\n  publicUrl: ${url}\n${endpoints}`)
    const creds = at('https://ops:hunter22@gw.example.com')
    expect(creds).toEqual([`${file}:2:14: listen.publicUrl: must not carry a user name or password: every link the gateway builds on it (authorize redirects, callbacks) would show them to users`])
    expect(creds.join('\n')).not.toContain('hunter22')
    const query = `${file}:2:14: listen.publicUrl: must be https://host[:port][/path], without a query or fragment: links are built by appending paths to it`
    expect(at('https://gw.example.com/?x=1')).toEqual([query])
    expect(at('https://gw.example.com/#top')).toEqual([query])
    expect(at('https://gw.example.com/base?')).toEqual([query])
    for (const ok of ['https://gw.example.com', 'https://gw.example.com/', 'https://gw.example.com:8443/base/', 'http://[::1]:8080']) expect(at(ok)).toEqual([])
  })

  it('tracing.otlp.endpoint with userinfo is refused, naming headers; a query stays allowed', () => {
    const at = (url: string, protocol = 'http/protobuf'): string[] => problemsOf(`tracing:\n  otlp:\n    endpoint: ${url}\n    protocol: ${protocol}\n${endpoints}`)
    const msg = `${file}:3:15: tracing.otlp.endpoint: must not carry a user name or password (the grpc exporter drops them; failure lines print the URL): put the collector's credentials in tracing.otlp.headers (authorization: …)`
    for (const protocol of ['http/protobuf', 'grpc']) {
      const lines = at('https://bot:hunter22@collector.test:4318/v1/traces', protocol)
      expect(lines).toEqual([msg])
      expect(lines.join('\n')).not.toContain('hunter22')
    }
    expect(at('https://collector.test:4318/v1/traces?tenant=a')).toEqual([])
    expect(at('http://collector.test:4317', 'grpc')).toEqual([])
  })
})

describe('numbers past what can work', () => {
  const FDS = 'each connection takes a file descriptor, and a Linux process holds at most 1048576 (fs.nr_open)'
  it('is refused at its key, naming the maximum and why, in plain digits', () => {
    expect(problemsOf(`interception:\n  caCert: ca.crt\n  caKey: ca.key\n  cacheSize: 1e20\n${endpoints}`)).toEqual([
      `${file}:4:14: interception.cacheSize: 100000000000000000000 is more than the maximum, 100000: a kept leaf holds its TLS context (about 32 KiB), so more would take gigabytes of memory`,
    ])
    const ep = (connections: string): string => `endpoints:\n  - name: a\n    url: https://a.test\n    connections: ${connections}\n    tls: { cert: c.crt, key: c.key }\n`
    expect(problemsOf(ep('100000000000000000000'))).toEqual([
      `${file}:4:18: endpoints[0].connections: 100000000000000000000 is more than the maximum, 65535: connections to one origin each take a local port of this host, and there are 65535`,
    ])
    expect(problemsOf(`listen:\n  connections: { max: 2000000, perAddress: 1048577 }\nadmin:\n  connections: { max: 1e9 }\n${endpoints}`)).toEqual([
      `${file}:2:23: listen.connections.max: 2000000 is more than the maximum, 1048576: ${FDS}`,
      `${file}:2:44: listen.connections.perAddress: 1048577 is more than the maximum, 1048576: ${FDS}`,
      `${file}:4:23: admin.connections.max: 1000000000 is more than the maximum, 1048576: ${FDS}`,
    ])
    // A port past 65535 says so in the same words.
    expect(problemsOf(`listen:\n  port: 70000\n${endpoints}`)).toEqual([`${file}:2:9: listen.port: 70000 is more than the maximum, 65535`])
  })

  it('the maxima themselves are accepted', () => {
    const text = `listen:\n  connections: { max: 1048576, perAddress: 1048576 }\ninterception:\n  caCert: ca.crt\n  caKey: ca.key\n  cacheSize: 100000\nendpoints:\n  - name: a\n    url: https://a.test\n    connections: 65535\n    tls: { cert: c.crt, key: c.key }\n`
    const lines = problemsOf(text)
    expect(lines.filter((l) => l.includes('maximum'))).toEqual([])
  })
})
