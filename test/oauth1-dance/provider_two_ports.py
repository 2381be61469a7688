#!/usr/bin/python3
"""The oauthlib test provider (test/peers/oauth1_provider.py) on two ports sharing one state.

Like a real partner: the API port (token URLs, protected resources) demands a client
certificate; the browser port serves the user-authorization page (and /_state) over TLS
without asking for one, as the partner's public website would.

    /usr/bin/python3 provider_two_ports.py CONFIG.json

CONFIG.json is oauth1_provider.py's, with "tls" required, and optionally "oauth_version": "1.0"
for the OAuth Core 1.0 dance of provider_oauth10.py. Prints one JSON line once both
listen: {"port": N, "browser_port": M, "scheme": "https"}. SIGTERM/SIGINT stop it.
"""
import json
import os
import signal
import ssl
import sys
import threading
from http.server import ThreadingHTTPServer

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'peers'))
import oauth1_provider as op  # noqa: E402
import provider_oauth10  # noqa: E402


def serve(handler, context):
    httpd = ThreadingHTTPServer(('127.0.0.1', 0), handler)
    httpd.daemon_threads = True
    # Handshake in the handler thread (see oauth1_provider.main).
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True, do_handshake_on_connect=False)
    return httpd


def main():
    with open(sys.argv[1], encoding='utf-8') as f:
        config = json.load(f)
    store = op.Store(config)
    validator = op.Validator(config, store)

    # "oauth_version": "1.0": the OAuth Core 1.0 dance (provider_oauth10.py), not RFC 5849's.
    base = provider_oauth10.Handler if config.get('oauth_version') == '1.0' else op.Handler

    class Api(base):
        pass

    class Browser(base):
        pass

    for h in (Api, Browser):
        h.config, h.store, h.validator, h.scheme = config, store, validator, 'https'
    tls = config['tls']
    browser_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    browser_ctx.load_cert_chain(tls['cert'], tls['key'])
    browser_ctx.verify_mode = ssl.CERT_NONE  # no CertificateRequest: a browser has no client certificate
    servers = [serve(Api, op.tls_context(tls)), serve(Browser, browser_ctx)]

    def stop(signum, frame):
        for s in servers:
            threading.Thread(target=s.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    threads = [threading.Thread(target=s.serve_forever) for s in servers]
    for t in threads:
        t.start()
    print(json.dumps({'port': servers[0].server_address[1], 'browser_port': servers[1].server_address[1],
                      'scheme': 'https'}), flush=True)
    for t in threads:
        t.join()


if __name__ == '__main__':
    main()
