/**
 * A real python3 HTTPS server (mTLS: it requires the gateway's client certificate) that reads a
 * JSON body as a backend honouring the declared charset does: the bytes decoded by the
 * Content-Type's charset (UTF-8 when none), then json.loads; a form body by parse_qsl with its
 * escapes decoded in that charset (as servlets do). It answers, ASCII-only JSON, the value
 * at the key path `?path=a.b` read keeping the first and keeping the last of duplicate keys
 * (object_pairs_hook), or `{"error": …}` when it cannot read the body.
 */
import { spawn } from 'node:child_process'
import { createInterface } from 'node:readline'

/** python3 source: `read(raw, charset, path)`, python's readings of a body (first-wins, last-wins at `path`; the last-wins document). */
export const PYTHON_READ = String.raw`
import json, urllib.parse
def first(pairs):
    d = {}
    for k, v in pairs: d.setdefault(k, v)
    return d
def at(doc, path):
    for p in path:
        if not isinstance(doc, dict) or p not in doc: return {'absent': True}
        doc = doc[p]
    return {'value': doc}
def read(raw, charset, path):
    try:
        text = raw.decode(charset)
        return {'first': at(json.loads(text, object_pairs_hook=first), path), 'last': at(json.loads(text), path), 'doc': json.loads(text)}
    except Exception as e:
        return {'error': type(e).__name__}
def read_form(raw, charset, path):
    try:
        pairs = urllib.parse.parse_qsl(raw.decode(charset), keep_blank_values=True, encoding=charset, errors='strict')
        return {'first': at(first(pairs), path), 'last': at(dict(pairs), path), 'doc': dict(pairs)}
    except Exception as e:
        return {'error': type(e).__name__}
`

const SCRIPT = String.raw`${PYTHON_READ}
import http.server, re, ssl, sys, urllib.parse
cert, key, ca = sys.argv[1:4]
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'
    def log_message(self, *a): pass
    def do_POST(self):
        raw = self.rfile.read(int(self.headers.get('content-length', '0')))
        m = re.search(r'charset="?([\w-]+)', self.headers.get('content-type', ''), re.I)
        path = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query).get('path', ['acct'])[0].split('.')
        reader = read_form if self.headers.get('content-type', '').startswith('application/x-www-form-urlencoded') else read
        body = json.dumps(reader(raw, m.group(1) if m else 'utf-8', path), ensure_ascii=True).encode('ascii')
        self.send_response(200)
        self.send_header('content-type', 'application/json')
        self.send_header('content-length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
ctx.load_verify_locations(ca)
ctx.verify_mode = ssl.CERT_REQUIRED
srv = http.server.ThreadingHTTPServer(('127.0.0.1', 0), H)
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
print(srv.server_address[1], flush=True)
srv.serve_forever()
`

export interface PythonJsonBackend {
  port: number
  close(): Promise<void>
}

/** Starts the server with the given PEM files (server chain, its key, the CA of client certificates). */
export async function startPythonJsonBackend(cert: string, key: string, ca: string): Promise<PythonJsonBackend> {
  const child = spawn('/usr/bin/python3', ['-c', SCRIPT, cert, key, ca], { stdio: ['ignore', 'pipe', 'inherit'] })
  const port = await new Promise<number>((resolve, reject) => {
    createInterface({ input: child.stdout }).once('line', (l) => resolve(Number(l)))
    child.once('error', reject)
    child.once('exit', (code) => reject(new Error(`python3 exited (${code}) before listening`)))
  })
  return {
    port,
    close: () => new Promise<void>((resolve) => (child.exitCode !== null ? resolve() : (child.once('exit', () => resolve()), child.kill()))),
  }
}
