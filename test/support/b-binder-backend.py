#!/usr/bin/python3
"""A backend that binds a JSON body the way case-insensitive binders do (ASP.NET Core's
PropertyNameCaseInsensitive, Jackson's ACCEPT_CASE_INSENSITIVE_PROPERTIES, Go's encoding/json),
behind TLS that requires a client certificate, on Python's wsgiref (a CGI-style server):

    /usr/bin/python3 test/support/b-binder-backend.py CERT KEY CLIENT_CA

It binds 127.0.0.1 on an ephemeral port and prints one JSON line, {"port": N}, once listening.
A request's query names dotted key paths (`?bind=auth.acct`); the answer is JSON:
{"bound": {path: [every value a binder ignoring case may read there, in body order]},
 "http": {HTTP_* variables}, "path_info": PATH_INFO (decoded), "raw_path": the request target,
 "body": the body as received}.
A key matches a path's key when the two are equal after Python's casefold() (full Unicode case
folding: K and the Kelvin sign, s and long s, ß and ss), after upper() or after lower().
"""
import json
import ssl
import sys
import urllib.parse
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server


def same(a, b):
    return a.casefold() == b.casefold() or a.upper() == b.upper() or a.lower() == b.lower()


class Pairs(list):
    """A JSON object as its (key, value) pairs in body order."""


def readings(node, keys):
    """Every value at a key path, any spelling a binder ignoring case accepts; a non-object on the way counts."""
    if not keys:
        return [node]
    if not isinstance(node, Pairs):
        return ['<not an object>']
    found = []
    for k, v in node:
        if same(k, keys[0]):
            found.extend(readings(v, keys[1:]))
    return found


def app(environ, start_response):
    length = int(environ.get('CONTENT_LENGTH') or 0)
    body = environ['wsgi.input'].read(length).decode('utf-8') if length else ''
    # Pairs, not dicts: duplicate keys stay visible, as a streaming binder meets them.
    doc = json.loads(body, object_pairs_hook=Pairs) if body else Pairs()
    paths = urllib.parse.parse_qs(environ.get('QUERY_STRING', '')).get('bind', [])
    answer = {
        'bound': {p: readings(doc, p.split('.')) for p in paths},
        'http': {k: v for k, v in environ.items() if k.startswith('HTTP_')},
        'path_info': environ.get('PATH_INFO', ''),
        'raw_path': environ.get('RAW_PATH', ''),
        'body': body,
    }
    data = json.dumps(answer).encode('utf-8')
    start_response('200 OK', [('Content-Type', 'application/json'), ('Content-Length', str(len(data)))])
    return [data]


class Handler(WSGIRequestHandler):
    def get_environ(self):
        env = super().get_environ()
        env['RAW_PATH'] = self.path
        return env

    def log_message(self, fmt, *args):
        sys.stderr.write('b-binder-backend: ' + (fmt % args) + '\n')


def main():
    cert, key, ca = sys.argv[1:4]
    server = make_server('127.0.0.1', 0, app, server_class=WSGIServer, handler_class=Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    context.load_verify_locations(ca)
    context.verify_mode = ssl.CERT_REQUIRED
    server.socket = context.wrap_socket(server.socket, server_side=True)
    print(json.dumps({'port': server.server_address[1]}), flush=True)
    server.serve_forever()


if __name__ == '__main__':
    main()
