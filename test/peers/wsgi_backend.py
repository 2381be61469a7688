#!/usr/bin/python3
"""A CGI-style backend: Python's reference WSGI server (wsgiref) behind TLS that requires a client
certificate. It keys request headers the CGI way (RFC 3875 §4.1.18: upper-cased, "-" read as "_",
so `X-Alpha-Secret` and `X_Alpha_Secret` are both HTTP_X_ALPHA_SECRET, joined by commas) and
answers JSON with what an application would read:

    /usr/bin/python3 test/peers/wsgi_backend.py CERT KEY CLIENT_CA

It binds 127.0.0.1 on an ephemeral port and prints one JSON line, {"port": N}, once listening.
The answer: {"http": {HTTP_* variables}, "path_info": PATH_INFO (percent-decoded, as WSGI gives it),
"query_string": the raw query, "query": parse_qs of it, "query_semicolon": parse_qs splitting on
";" too (Python before 3.9.2), "form": parse_qs of a form body}.
"""
import json
import ssl
import sys
import urllib.parse
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server


def app(environ, start_response):
    query = environ.get('QUERY_STRING', '')
    length = int(environ.get('CONTENT_LENGTH') or 0)
    body = environ['wsgi.input'].read(length).decode('utf-8', 'replace') if length else ''
    answer = {
        'http': {k: v for k, v in environ.items() if k.startswith('HTTP_')},
        'path_info': environ.get('PATH_INFO', ''),
        'query_string': query,
        'query': urllib.parse.parse_qs(query, keep_blank_values=True),
        'query_semicolon': urllib.parse.parse_qs(query.replace(';', '&'), keep_blank_values=True),
        'form': urllib.parse.parse_qs(body, keep_blank_values=True),
    }
    data = json.dumps(answer).encode('utf-8')
    start_response('200 OK', [('Content-Type', 'application/json'), ('Content-Length', str(len(data)))])
    return [data]


class QuietHandler(WSGIRequestHandler):
    def log_message(self, fmt, *args):
        sys.stderr.write('wsgi_backend: ' + (fmt % args) + '\n')


def main():
    cert, key, ca = sys.argv[1:4]
    server = make_server('127.0.0.1', 0, app, server_class=WSGIServer, handler_class=QuietHandler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    context.load_verify_locations(ca)
    context.verify_mode = ssl.CERT_REQUIRED
    server.socket = context.wrap_socket(server.socket, server_side=True)
    print(json.dumps({'port': server.server_address[1]}), flush=True)
    server.serve_forever()


if __name__ == '__main__':
    main()
