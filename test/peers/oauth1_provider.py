#!/usr/bin/python3
"""An OAuth 1.0a provider built on python3-oauthlib, used as an independent verifier.

Run with Debian's interpreter (python3-oauthlib is installed for it only):

    /usr/bin/python3 test/peers/oauth1_provider.py CONFIG.json [--port N] [--host H]

It binds 127.0.0.1 (port 0 by default) and prints one JSON line to stdout once listening,
e.g. {"port": 41234, "scheme": "http"}; logs go to stderr. SIGTERM/SIGINT stop it.

CONFIG.json (every key but "clients" optional):
  {
    "clients": [{"key": "...", "secret": "...", "rsa_public_key": "PEM (SPKI, PKCS#1 or ssh-rsa)",
                 "callbacks": ["http://..."],        # allowed oauth_callback values ("oob" always ok)
                 "realms": ["photos"]}],             # default realms for request tokens
    "access_tokens": [{"client_key": "...", "token": "...", "secret": "...", "realms": []}],
    "request_tokens": [{"client_key": "...", "token": "...", "secret": "...",
                        "callback": "oob", "verifier": null}],
    "signature_methods": ["HMAC-SHA1", ...],         # default: all oauthlib knows
    "lengths": {"client_key": [20, 30], "request_token": [20, 30], "access_token": [20, 30],
                "nonce": [20, 30], "verifier": [20, 30]},   # default: oauthlib's
    "timestamp_lifetime": 600,
    "request_token_reply": {"oauth_callback_confirmed": null},  # parameters of a 200 request-token
                                   # reply replaced (null: left out), as a provider that does not
                                   # confirm the callback (OAuth 1.0, not 1.0a) answers
    "require_body_hash": false,    # 401 for a non-form request without oauth_body_hash
    "enforce_ssl": null,           # default: true when serving TLS, false for plain HTTP
    "tls": {"cert": "server.pem", "key": "server.key", "ca": "clients-ca.pem",
            "require_client_cert": true}
  }

Routes:
  ANY  /signature-only/...  SignatureOnlyEndpoint (two-legged: no token needed)
  POST /request_token       RequestTokenEndpoint  (temporary credentials, RFC 5849 §2.1)
  GET  /authorize           approve/deny page for ?oauth_token=... (§2.2)
  POST /authorize           form decision=approve|deny → 302 to the callback (or page for oob)
  POST /access_token        AccessTokenEndpoint   (token credentials, §2.3)
                            (these three also under any path prefix, e.g. /t/acme/request_token,
                            as providers with templated URLs serve them)
  GET  /_state              JSON dump of issued tokens and of the URIs token calls were verified
                            over ("token_calls": [{"endpoint", "uri", "status"}]), for tests
  ANY  anything else        ResourceEndpoint (protected resource, §3.2): 200 with what was verified
                            as JSON ({"ok": true, "signature_type", "oauth_params", "params", "body",
                            "body_hash_verified", "client_cert", ...}), or 401 with oauthlib's
                            reason ({"ok": false, "error", "description", "validator_log"?}).

One self-contained file (over the usual 300-line budget) because tests spawn it by path and the
dance tests will extend Validator/Handler in place; sections are marked for that.

python3-oauthlib 3.2.2 does not verify oauth_body_hash (its client only adds one, always with
SHA-1), so this provider checks it itself, with the digest the signature method names.
"""
import argparse
import base64
import hashlib
import hmac
import json
import signal
import ssl
import sys
import threading
from html import escape as html_escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlencode, urlsplit

from oauthlib.oauth1 import (AccessTokenEndpoint, AuthorizationEndpoint, RequestTokenEndpoint,
                             RequestValidator, ResourceEndpoint, SignatureOnlyEndpoint)
from oauthlib.oauth1.rfc5849 import SIGNATURE_METHODS, errors

FORM = 'application/x-www-form-urlencoded'
BODY_HASH_DIGEST = {'HMAC-SHA256': 'sha256', 'RSA-SHA256': 'sha256',
                    'HMAC-SHA512': 'sha512', 'RSA-SHA512': 'sha512'}  # everything else: sha1


def _dummy_rsa_public_key():
    """A well-formed key for unknown clients, so RSA verification fails instead of crashing."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.public_key().public_bytes(serialization.Encoding.PEM,
                                         serialization.PublicFormat.SubjectPublicKeyInfo).decode()


class Store:
    """In-memory clients and tokens; a lock because the server is threaded."""

    def __init__(self, config):
        self.lock = threading.RLock()
        self.clients = {c['key']: c for c in config.get('clients', [])}
        self.access_tokens = {(t['client_key'], t['token']): t for t in config.get('access_tokens', [])}
        self.request_tokens = {t['token']: dict(t) for t in config.get('request_tokens', [])}
        self.nonces = set()
        self.token_calls = []

    def snapshot(self):
        with self.lock:
            return {'request_tokens': list(self.request_tokens.values()),
                    'access_tokens': list(self.access_tokens.values()),
                    'token_calls': list(self.token_calls)}


class Validator(RequestValidator):
    """Everything oauthlib asks a provider, answered from the Store. Subclass to change a rule."""

    def __init__(self, config, store):
        super().__init__()
        self.config = config
        self.store = store
        self._dummy_rsa = None

    # --- policy -----------------------------------------------------------------------------
    @property
    def allowed_signature_methods(self):
        return tuple(self.config.get('signature_methods') or SIGNATURE_METHODS)

    @property
    def enforce_ssl(self):
        configured = self.config.get('enforce_ssl')
        return bool(self.config.get('tls')) if configured is None else bool(configured)

    @property
    def timestamp_lifetime(self):
        return int(self.config.get('timestamp_lifetime', 600))

    def _length(self, name, default):
        return tuple(self.config.get('lengths', {}).get(name, default))

    client_key_length = property(lambda self: self._length('client_key', (20, 30)))
    request_token_length = property(lambda self: self._length('request_token', (20, 30)))
    access_token_length = property(lambda self: self._length('access_token', (20, 30)))
    nonce_length = property(lambda self: self._length('nonce', (20, 30)))
    verifier_length = property(lambda self: self._length('verifier', (20, 30)))

    # --- dummies: used instead of unknown values so timing does not reveal which was wrong -----
    dummy_client = 'dummyclientdummyclient'
    dummy_request_token = 'dummyrequesttokendummy'
    dummy_access_token = 'dummyaccesstokendummy'

    # --- lookups ------------------------------------------------------------------------------
    def get_client_secret(self, client_key, request):
        return self.store.clients.get(client_key, {}).get('secret', 'dummy-secret')

    def get_rsa_key(self, client_key, request):
        key = self.store.clients.get(client_key, {}).get('rsa_public_key')
        if key:
            return key
        if self._dummy_rsa is None:
            self._dummy_rsa = _dummy_rsa_public_key()
        return self._dummy_rsa

    def get_request_token_secret(self, client_key, token, request):
        with self.store.lock:
            t = self.store.request_tokens.get(token)
            return t['secret'] if t and t['client_key'] == client_key else 'dummy-secret'

    def get_access_token_secret(self, client_key, token, request):
        t = self.store.access_tokens.get((client_key, token))
        return t['secret'] if t else 'dummy-secret'

    def get_default_realms(self, client_key, request):
        return list(self.store.clients.get(client_key, {}).get('realms', []))

    def get_realms(self, token, request):
        with self.store.lock:
            return list(self.store.request_tokens.get(token, {}).get('realms', []))

    def get_redirect_uri(self, token, request):
        with self.store.lock:
            return self.store.request_tokens.get(token, {}).get('callback', 'oob')

    # --- checks -------------------------------------------------------------------------------
    def validate_client_key(self, client_key, request):
        return client_key in self.store.clients

    def validate_request_token(self, client_key, token, request):
        with self.store.lock:
            t = self.store.request_tokens.get(token)
            return bool(t) and t['client_key'] == client_key

    def validate_access_token(self, client_key, token, request):
        return (client_key, token) in self.store.access_tokens

    def validate_timestamp_and_nonce(self, client_key, timestamp, nonce, request,
                                     request_token=None, access_token=None):
        seen = (client_key, timestamp, nonce, request_token or access_token)
        with self.store.lock:
            if seen in self.store.nonces:
                return False
            self.store.nonces.add(seen)
            return True

    def validate_redirect_uri(self, client_key, redirect_uri, request):
        allowed = self.store.clients.get(client_key, {}).get('callbacks')
        return redirect_uri == 'oob' or allowed is None or redirect_uri in allowed

    def validate_requested_realms(self, client_key, realms, request):
        allowed = self.store.clients.get(client_key, {}).get('realms')
        return allowed is None or set(realms) <= set(allowed)

    def validate_realms(self, client_key, token, request, uri=None, realms=None):
        return True

    def validate_verifier(self, client_key, token, verifier, request):
        with self.store.lock:
            t = self.store.request_tokens.get(token)
            return bool(t) and t['client_key'] == client_key and t.get('verifier') is not None \
                and hmac.compare_digest(t['verifier'], verifier)

    def verify_request_token(self, token, request):
        with self.store.lock:
            return token in self.store.request_tokens

    def verify_realms(self, token, realms, request):
        return set(realms) <= set(self.get_realms(token, request))

    # --- state changes ------------------------------------------------------------------------
    def save_request_token(self, token, request):
        with self.store.lock:
            self.store.request_tokens[token['oauth_token']] = {
                'client_key': request.client_key, 'token': token['oauth_token'],
                'secret': token['oauth_token_secret'], 'callback': request.redirect_uri,
                'realms': list(request.realms or []), 'verifier': None}

    def save_verifier(self, token, verifier, request):
        with self.store.lock:
            self.store.request_tokens[token]['verifier'] = verifier['oauth_verifier']

    def invalidate_request_token(self, client_key, request_token, request):
        with self.store.lock:
            self.store.request_tokens.pop(request_token, None)

    def save_access_token(self, token, request):
        with self.store.lock:
            key = (request.client_key, token['oauth_token'])
            self.store.access_tokens[key] = {
                'client_key': request.client_key, 'token': token['oauth_token'],
                'secret': token['oauth_token_secret'], 'realms': list(request.realms or [])}


def diagnose(endpoint, uri, method, body, headers):
    """oauthlib's own reason for refusing a request, from the checks it would run first."""
    try:
        request = endpoint._create_request(uri, method, body, headers)
        endpoint._check_transport_security(request)
        endpoint._check_mandatory_parameters(request)
    except errors.OAuth1Error as e:
        return {'error': e.error, 'description': e.description}
    except ValueError as e:  # malformed header or form encoding
        return {'error': 'invalid_request', 'description': str(e)}
    return None


def reshape_reply(body, changes):
    """A form reply with `changes` applied: a parameter set to None is left out, others replaced or added."""
    params = [(k, v) for k, v in parse_qsl(body, keep_blank_values=True) if k not in changes]
    return urlencode(params + [(k, v) for k, v in changes.items() if v is not None])


def header(headers, name):
    """Case-insensitive header lookup (oauthlib does the same internally)."""
    return next((v for k, v in headers.items() if k.lower() == name.lower()), '')


def signature_type(headers, uri, body, content_type):
    if header(headers, 'Authorization').lower().startswith('oauth '):
        return 'AUTH_HEADER'
    if any(k.startswith('oauth_') for k, _ in parse_qsl(urlsplit(uri).query, keep_blank_values=True)):
        return 'QUERY'
    return 'BODY' if FORM in content_type else None


def check_body_hash(config, request, raw_body, is_form):
    """OAuth Request Body Hash draft: absent on form bodies, else base64(digest(body))."""
    claimed = request.oauth_params.get('oauth_body_hash')
    if is_form:
        return (claimed is None, 'oauth_body_hash is not allowed on a form-encoded request')
    if claimed is None:
        return (not config.get('require_body_hash', False), 'oauth_body_hash is required')
    algorithm = BODY_HASH_DIGEST.get(request.signature_method, 'sha1')
    expected = base64.b64encode(hashlib.new(algorithm, raw_body).digest()).decode()
    return (hmac.compare_digest(expected, claimed), f'oauth_body_hash does not match the body ({algorithm})')


AUTHORIZE_PAGE = """<!doctype html>
<html><head><title>Authorize application</title></head><body>
<h1>Authorize {client}?</h1>
<p>The application <b>{client}</b> asks to access your account{realms}.</p>
<form method="post" action="/authorize">
<input type="hidden" name="oauth_token" value="{token}">
<button type="submit" name="decision" value="approve" id="approve">Approve</button>
<button type="submit" name="decision" value="deny" id="deny">Deny</button>
</form></body></html>
"""


class Handler(BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'
    server_version = 'oauthlib-test-provider/1'

    # set on the class by main()
    config = {}
    store = None
    validator = None
    scheme = 'http'

    timeout = 30  # idle keep-alive connections go away

    def setup(self):
        super().setup()
        if isinstance(self.connection, ssl.SSLSocket):
            self.connection.do_handshake()  # here, in the handler thread (see main())

    def log_message(self, fmt, *args):
        sys.stderr.write('oauth1_provider: ' + (fmt % args) + '\n')

    # --- plumbing -----------------------------------------------------------------------------
    def _read_body(self):
        length = int(self.headers.get('Content-Length') or 0)
        return self.rfile.read(length) if length > 0 else b''

    def _uri(self):
        # The URI the client signed: scheme we serve + the Host header + the raw request-target.
        return f"{self.scheme}://{self.headers.get('Host', '')}{self.path}"

    def _send(self, status, body, content_type='application/json', headers=None):
        data = body if isinstance(body, bytes) else body.encode()
        self.send_response(status)
        self.send_header('Content-Type', content_type)
        self.send_header('Content-Length', str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != 'HEAD':
            self.wfile.write(data)

    def _json(self, status, obj, headers=None):
        self._send(status, json.dumps(obj, indent=1, sort_keys=True), 'application/json', headers)

    def _client_cert(self):
        getpeercert = getattr(self.connection, 'getpeercert', None)
        cert = getpeercert() if getpeercert else None
        if not cert:
            return None
        return {'subject': [list(x) for rdn in cert.get('subject', ()) for x in rdn],
                'serial': cert.get('serialNumber')}

    def _dispatch(self):
        raw = self._read_body()
        path = urlsplit(self.path).path
        headers = {k: v for k, v in self.headers.items()}
        args = (self._uri(), self.command, raw.decode('utf-8', 'replace'), headers)
        try:
            if path.endswith('/request_token') and self.command == 'POST':
                return self._token_response(RequestTokenEndpoint(self.validator), args)
            if path.endswith('/access_token') and self.command == 'POST':
                return self._token_response(AccessTokenEndpoint(self.validator), args)
            if path.endswith('/authorize'):
                return self._authorize(args)
            if path == '/_state':
                return self._json(200, self.store.snapshot())
            if path.startswith('/signature-only'):
                return self._protected(SignatureOnlyEndpoint(self.validator), args, raw)
            return self._protected(ResourceEndpoint(self.validator), args, raw)
        except Exception as e:  # a fixture must say what broke, not hang up
            self.log_message('internal error: %r', e)
            return self._json(500, {'ok': False, 'error': 'internal_error', 'description': repr(e)})

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _dispatch

    # --- endpoints ----------------------------------------------------------------------------
    def _token_response(self, endpoint, args):
        uri, method, body, headers = args
        create = (endpoint.create_request_token_response if isinstance(endpoint, RequestTokenEndpoint)
                  else endpoint.create_access_token_response)
        resp_headers, resp_body, status = create(uri, http_method=method, body=body, headers=headers)
        with self.store.lock:
            kind = 'request_token' if isinstance(endpoint, RequestTokenEndpoint) else 'access_token'
            self.store.token_calls.append({'endpoint': kind, 'uri': uri, 'status': status})
        if kind == 'request_token' and status == 200 and 'request_token_reply' in self.validator.config:
            resp_body = reshape_reply(resp_body, self.validator.config['request_token_reply'])
        if status == 401 and not resp_body:
            reason = diagnose(endpoint, uri, method, body, headers)
            resp_body = urlencode(reason or {'error': 'invalid_client_or_token_or_signature'})
        ctype = resp_headers.pop('Content-Type', FORM)
        self._send(status, resp_body or '', ctype, resp_headers)

    def _protected(self, endpoint, args, raw):
        uri, method, body, headers = args
        content_type = header(headers, 'Content-Type')
        try:
            if isinstance(endpoint, ResourceEndpoint):
                valid, request = endpoint.validate_protected_resource_request(uri, method, body, headers)
            else:
                valid, request = endpoint.validate_request(uri, method, body, headers)
        except ValueError as e:  # oauthlib's urldecode refuses e.g. a raw "[" or "|" in the query
            return self._json(400, {'ok': False, 'error': 'invalid_request', 'description': str(e)})
        if not valid:
            log = dict(getattr(request, 'validator_log', {}) if request else {})
            failed = sorted(k for k, v in log.items() if not v)
            reason = diagnose(endpoint, uri, method, body, headers) or {
                'error': 'verification_failed',
                'description': 'invalid ' + (', '.join(failed) or 'timestamp/nonce (replay?)'),
                'validator_log': log}
            return self._json(401, {'ok': False, **reason}, {'WWW-Authenticate': 'OAuth realm="test"'})
        ok, why = check_body_hash(self.config, request, raw, FORM in content_type)
        if not ok:
            return self._json(401, {'ok': False, 'error': 'invalid_body_hash', 'description': why})
        self._json(200, {
            'ok': True,
            'endpoint': 'resource' if isinstance(endpoint, ResourceEndpoint) else 'signature-only',
            'method': method,
            'uri': uri,
            'signature_type': signature_type(headers, uri, body, content_type),
            'signature_method': request.signature_method,
            'client_key': request.client_key,
            'token': request.resource_owner_key,
            'realm': request.realm,
            'oauth_params': request.oauth_params,
            'params': [list(p) for p in request.params],
            'content_type': content_type,
            'body': raw.decode('utf-8', 'replace'),
            'body_hash_verified': 'oauth_body_hash' in request.oauth_params,
            'client_cert': self._client_cert(),
            # What arrived, so header-type fields are observed here, not only trusted to be sent.
            'headers': {k.lower(): v for k, v in headers.items() if k.lower() != 'authorization'},
            # The request as it arrived, for a second verifier (test/peers/php_oauth1_verify.php).
            'authorization': header(headers, 'Authorization'),
            'body_hex': raw.hex(),
        })

    def _authorize(self, args):
        uri, method, body, headers = args
        endpoint = AuthorizationEndpoint(self.validator)
        if method == 'GET':
            try:
                realms, creds = endpoint.get_realms_and_credentials(uri, http_method='GET', headers={})
            except errors.OAuth1Error as e:
                return self._send(400, f'<p>{html_escape(e.description)}</p>', 'text/html; charset=utf-8')
            token = creds['resource_owner_key']
            with self.store.lock:
                client = self.store.request_tokens[token]['client_key']
            shown = f" ({html_escape(', '.join(realms))})" if realms else ''
            page = AUTHORIZE_PAGE.format(client=html_escape(client), token=html_escape(token), realms=shown)
            return self._send(200, page, 'text/html; charset=utf-8')
        form = dict(parse_qsl(body, keep_blank_values=True))
        token = form.get('oauth_token', '')
        if form.get('decision') != 'approve':
            with self.store.lock:
                callback = self.store.request_tokens.get(token, {}).get('callback', 'oob')
                self.store.request_tokens.pop(token, None)
            if callback == 'oob':
                return self._send(200, '<p>Access denied.</p>', 'text/html; charset=utf-8')
            sep = '&' if '?' in callback else '?'
            return self._send(302, '', 'text/plain', {'Location': f"{callback}{sep}{urlencode({'denied': token})}"})
        target = f"{self.scheme}://{self.headers.get('Host', '')}/authorize?{urlencode({'oauth_token': token})}"
        try:
            resp_headers, resp_body, status = endpoint.create_authorization_response(target, http_method='GET')
        except errors.OAuth1Error as e:
            return self._send(400, f'<p>{html_escape(e.description)}</p>', 'text/html; charset=utf-8')
        if status == 302:
            return self._send(302, '', 'text/plain', resp_headers)
        verifier = dict(parse_qsl(resp_body)).get('oauth_verifier', '')
        return self._send(200, f'<p>Your verifier: <code id="verifier">{html_escape(verifier)}</code></p>',
                          'text/html; charset=utf-8')


def tls_context(tls):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(tls['cert'], tls['key'])
    if tls.get('ca'):
        ctx.load_verify_locations(tls['ca'])
    ctx.verify_mode = ssl.CERT_REQUIRED if tls.get('require_client_cert', True) else ssl.CERT_OPTIONAL
    return ctx


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n', 1)[0])
    parser.add_argument('config', help='JSON configuration file')
    parser.add_argument('--port', type=int, default=0)
    parser.add_argument('--host', default='127.0.0.1')
    opts = parser.parse_args(argv)
    with open(opts.config, encoding='utf-8') as f:
        config = json.load(f)

    store = Store(config)
    Handler.config, Handler.store = config, store
    Handler.validator = Validator(config, store)
    httpd = ThreadingHTTPServer((opts.host, opts.port), Handler)
    httpd.daemon_threads = True
    tls = config.get('tls')
    if tls:
        # Handshake lazily in the handler thread so one slow client cannot stall accept().
        httpd.socket = tls_context(tls).wrap_socket(httpd.socket, server_side=True,
                                                    do_handshake_on_connect=False)
        Handler.scheme = 'https'

    def stop(signum, frame):
        threading.Thread(target=httpd.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(json.dumps({'port': httpd.server_address[1], 'scheme': Handler.scheme}), flush=True)
    httpd.serve_forever()
    httpd.server_close()


if __name__ == '__main__':
    main()
