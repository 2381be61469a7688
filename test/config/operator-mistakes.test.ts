/**
 * Mistakes an operator makes in a first hurried hour with the config, each named at its
 * file:line:column and key with the fix, the way `check`, a start and a reload show it.
 */
import { describe, expect, it } from 'vitest'
import { parseConfig } from '../../src/config/index.js'
import { configErrorLines } from '../support/config-problems.js'

const file = '/etc/gw/gateway.yaml'
const TLS = `    tls:
      cert: client.crt
      key: client.key
      roots: root.crt
`
const endpoint = (url: string, more = ''): string => `  - name: partner
    url: ${url}
${more}${TLS}`
const problemsOf = (text: string, env: NodeJS.ProcessEnv = {}): string[] => configErrorLines(() => parseConfig(file, text, { env }))

describe('operator mistakes', () => {
  it('a key written twice is named, with the line of its first spelling', () => {
    const text = `listen:\n  port: 8080\nendpoints:\n${endpoint('https://a.test', '    name: other\n')}listen:\n  port: 8081\n`
    expect(problemsOf(text)).toEqual([
      `${file}:6:5: endpoints[0].name: YAML: duplicate key "name" (first at line 4): keep one`,
      `${file}:11:1: listen: YAML: duplicate key "listen" (first at line 1): keep one`,
    ])
  })

  it('a merge key (<<) is named as unsupported, with what to write instead', () => {
    const text = `endpoints:\n${endpoint('https://a.test').replace('    tls:', '    tls: &tls')}  - name: b\n    url: https://b.test\n    tls:\n      <<: *tls\n      minVersion: TLSv1.3\n`
    expect(problemsOf(text)).toEqual([
      `${file}:11:7: endpoints[1].tls.<<: YAML merge keys (<<) are not supported: alias the whole mapping (tls: *anchor) or write its keys out`,
    ])
  })

  it('an unknown key close to a known one says which was meant', () => {
    expect(problemsOf(`listen:\n  prot: 8080\nendpoints:\n${endpoint('https://a.test')}`)).toEqual([`${file}:2:3: listen.prot: unknown key (did you mean port?)`])
    expect(problemsOf(`endpoints:\n${endpoint('https://a.test', '    alowPrivate: true\n')}`)).toEqual([`${file}:4:5: endpoints[0].alowPrivate: unknown key (did you mean allowPrivate?)`])
    // Nothing close: no guess.
    expect(problemsOf(`listen:\n  frobnicate: 1\nendpoints:\n${endpoint('https://a.test')}`)).toEqual([`${file}:2:3: listen.frobnicate: unknown key`])
  })

  it('a missing or empty reference is one problem naming it, without a follow-on about the empty value', () => {
    const text = `profiles:\n  - name: p\n    consumerKey: \${env:CK}\n    consumerSecret: s3cret-value\nendpoints:\n${endpoint('https://a.test', '    profile: p\n')}`
    expect(problemsOf(text)).toEqual([`${file}:3:18: profiles[0].consumerKey: environment variable CK is not set (referenced as \${env:CK})`])
    expect(problemsOf(text, { CK: '' })).toEqual([`${file}:3:18: profiles[0].consumerKey: environment variable CK is empty (referenced as \${env:CK})`])
  })

  it('an endpoint URL with a user name or password is refused without showing the password', () => {
    const lines = problemsOf(`endpoints:\n${endpoint('https://bot:hunter22@a.test/api')}`)
    expect(lines).toEqual([`${file}:3:10: endpoints[0].url: must not carry a user name or password (the gateway sends none from the URL): set credentials with a header field`])
    expect(lines.join('\n')).not.toContain('hunter22')
  })

  it('a path field whose placeholder is in neither the URL path nor pathPrefix is refused', () => {
    const fields = '    fields:\n      - type: path\n        key: acct\n        value: x\n'
    expect(problemsOf(`endpoints:\n${endpoint('https://a.test/api', fields)}`)).toEqual([
      `${file}:6:14: endpoints[0].fields[0].key: no {{acct}} placeholder in endpoints[0].url's path or pathPrefix: the field would never be placed`,
    ])
    // In the URL path, or in pathPrefix: placed.
    expect(problemsOf(`endpoints:\n${endpoint('https://a.test/api/{{acct}}', fields)}`)).toEqual([])
    expect(problemsOf(`endpoints:\n${endpoint('https://a.test/api', `    pathPrefix: /api/{{acct}}\n${fields}`)}`)).toEqual([])
    const profile = `profiles:\n  - name: p\n    consumerKey: k\n    consumerSecret: s3cret-value\n    fields:\n      - type: path\n        key: acct\n        value: x\n`
    expect(problemsOf(`${profile}endpoints:\n${endpoint('https://a.test/api', '    profile: p\n')}`)).toEqual([
      `${file}:7:14: profiles[0].fields[0].key: no {{acct}} placeholder in endpoints[0].url's path or pathPrefix: the field would never be placed`,
    ])
  })

  it('PEM text where a file path belongs is named at its key, never echoed: inline, from ${env:} or from ${file:}', () => {
    const pem = '-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgSECRETSECRET\n-----END PRIVATE KEY-----'
    const inline = `endpoints:\n${endpoint('https://a.test').replace('      key: client.key\n', `      key: |\n${pem.split('\n').map((l) => `        ${l}`).join('\n')}\n`)}`
    const fix = "not a file path: write the PEM to a file and give that file's path (not ${file:…}, which reads the file's text)"
    const lines = problemsOf(inline)
    expect(lines).toEqual([`${file}:6:12: endpoints[0].tls.key: is PEM text, ${fix}`])
    const referenced = `endpoints:\n${endpoint('https://a.test').replace('key: client.key', 'key: ${env:CLIENT_KEY}').replace('roots: root.crt', 'roots: [ca.crt, "${env:ROOTS}"]')}`
    const fromEnv = problemsOf(referenced, { CLIENT_KEY: pem, ROOTS: pem.replaceAll('PRIVATE KEY', 'CERTIFICATE') })
    expect(fromEnv).toEqual([`${file}:6:12: endpoints[0].tls.key: is PEM text (${'${env:CLIENT_KEY}'}), ${fix}`, `${file}:7:23: endpoints[0].tls.roots[1]: is PEM text (${'${env:ROOTS}'}), ${fix}`])
    expect([...lines, ...fromEnv].join('\n')).not.toContain('SECRET')
  })

  it('a value of the wrong YAML type says what to write: unquote a number or boolean, true/false for yes/on, quote a string, no number from a reference', () => {
    const with_ = (head: string, more = ''): string => `${head}endpoints:\n${endpoint('https://a.test', more)}`
    expect(problemsOf(with_('listen:\n  port: "8080"\n'))).toEqual([`${file}:2:9: listen.port: must be integer: write 8080 without quotes`])
    expect(problemsOf(with_('forwarding:\n  via: yes\n'))).toEqual([`${file}:2:8: forwarding.via: must be boolean, true or false (YAML 1.2 reads yes as text)`])
    expect(problemsOf(with_('forwarding:\n  xForwardedFor: "true"\n'))).toEqual([`${file}:2:18: forwarding.xForwardedFor: must be boolean: write true without quotes`])
    expect(problemsOf(with_('profiles:\n  - { name: p, consumerKey: 0123, consumerSecret: s3cret-value }\n', '    profile: p\n'))).toEqual([
      `${file}:2:29: profiles[0].consumerKey: must be string: quote it (YAML read it as a number, which drops leading zeros)`,
    ])
    // A reference gives text: its value is not shown, nor told to be unquoted.
    expect(problemsOf(with_('listen:\n  port: ${env:GW_PORT}\n'), { GW_PORT: '8443' })).toEqual([
      `${file}:2:9: listen.port: must be integer: a \${env:…} or \${file:…} reference gives text, so write the number itself here`,
    ])
  })

  it('a via.url with credentials, a path or a query is refused with where they go, never showing the password', () => {
    const via = (url: string): string => `endpoints:\n${endpoint('https://a.test', `    via:\n      url: ${url}\n`)}`
    const lines = problemsOf(via('http://bot:hunter22@proxy.test:3128'))
    expect(lines).toEqual([`${file}:5:12: endpoints[0].via.url: must not carry a user name or password (the gateway sends none from the URL): set via.username and via.password`])
    expect(lines.join('\n')).not.toContain('hunter22')
    // A password alone would never be sent (Proxy-Authorization needs the user name): refused at its line, not shown.
    const alone = problemsOf(`endpoints:\n${endpoint('https://a.test', '    via:\n      url: http://proxy.test:3128\n      password: hunter22\n')}`)
    expect(alone).toEqual([`${file}:6:17: endpoints[0].via.password: is set without via.username: the gateway sends Proxy-Authorization (Basic) only with both, so this password would never be sent; set via.username`])
    expect(alone.join('\n')).not.toContain('hunter22')
    expect(problemsOf(via('http://proxy.test:3128/connect?x=1'))).toEqual([
      `${file}:5:12: endpoints[0].via.url: must be http://host:port, without a path, query or fragment (a CONNECT proxy is asked for the endpoint's host, never a path)`,
    ])
    expect(problemsOf(via('http://proxy.test:3128/'))).toEqual([])
    expect(problemsOf(via('http://[::1]:3128'))).toEqual([])
  })

  it('an empty file, or one of comments only, is named as empty; a list or a scalar as not a mapping', () => {
    for (const text of ['', '\n', '# endpoints: to come\n']) expect(problemsOf(text)).toEqual([`${file}:1:1: the config is empty (or only comments): it needs at least endpoints:`])
    expect(problemsOf('- endpoints\n')).toEqual([`${file}:1:1: the config must be a YAML mapping`])
  })

  it('a duration with two units, a unit word or a quoted number says how to write it', () => {
    const expected = 'invalid value: expected a duration such as 250ms, 5s, 2m, 1h, or a number of milliseconds'
    const at = (value: string): string[] => problemsOf(`drain:\n  grace: ${value}\nendpoints: []\n`)
    expect(at('1h30m')).toEqual([`${file}:2:10: drain.grace: ${expected}; one unit only: write 90m`])
    expect(at('1m30s')).toEqual([`${file}:2:10: drain.grace: ${expected}; one unit only: write 90s`])
    expect(at('5 seconds')).toEqual([`${file}:2:10: drain.grace: ${expected}; write 5s (units: ms, s, m, h)`])
    expect(at('2d')).toEqual([`${file}:2:10: drain.grace: ${expected}; write 48h (units: ms, s, m, h)`])
    expect(at('"30"')).toEqual([`${file}:2:10: drain.grace: ${expected}; write 30s for seconds, or 30 without quotes for milliseconds`])
    expect(at('soon')).toEqual([`${file}:2:10: drain.grace: ${expected}`])
    // From a reference: no hint, no value.
    expect(problemsOf('drain:\n  grace: ${env:GRACE}\nendpoints: []\n', { GRACE: '30' })).toEqual([`${file}:2:10: drain.grace: ${expected}`])
  })
})
