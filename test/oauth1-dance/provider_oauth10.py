"""An OAuth Core 1.0 (not 1.0a) provider: the oauthlib test provider with the 1.0 dance.

python3-oauthlib implements RFC 5849 (OAuth 1.0a) only: its RequestTokenEndpoint refuses a
request without oauth_callback ("Missing callback URI."), its AccessTokenEndpoint one without
oauth_verifier ("Missing verifier."), and its provider has no 1.0 mode. So this subclass keeps
oauthlib for every signature check and hand-writes only what OAuth Core 1.0 does differently:

  POST /request_token                         Core 1.0 §6.1.1: consumer key, signature method,
                                              signature, timestamp, nonce (and version); no
                                              callback (one sent is ignored: the callback comes
                                              with the user). Checked by oauthlib's
                                              SignatureOnlyEndpoint; the reply is the token pair,
                                              no oauth_callback_confirmed
  GET  /authorize?oauth_token&oauth_callback  the callback comes with the user (Core 1.0 §6.2.1),
                                              remembered on the request token
  POST /authorize decision=approve            302 to that callback with oauth_token only (§6.2.3),
                                              no oauth_verifier; without one, a "return" page
  POST /access_token                          signed with the consumer and the approved request
                                              token (§6.3.1), no verifier: checked by oauthlib's
                                              ResourceEndpoint with the request token standing
                                              for the access token; then a new token pair

Each request-token and access-token call is logged in the state's token_calls with the oauth_*
parameter names it carried, so a test sees whether oauth_callback or oauth_verifier was sent.

"send_verifier": true in the config makes a provider between the two versions: the 1.0
request-token step above, but its authorize step redirects with an oauth_verifier (oauthlib's
AuthorizationEndpoint, to the callback the authorize URL named) and its access-token step is
oauthlib's RFC 5849 AccessTokenEndpoint, which refuses a request without that verifier.
"""
import secrets
from urllib.parse import parse_qsl, urlencode, urlsplit

from oauthlib.oauth1 import AccessTokenEndpoint, RequestTokenEndpoint, ResourceEndpoint, SignatureOnlyEndpoint

import oauth1_provider as op


class RequestTokenSigns(op.Validator):
    """Core 1.0 §6.3.1: an approved request token signs the access-token request."""

    def validate_access_token(self, client_key, token, request):
        with self.store.lock:
            t = self.store.request_tokens.get(token)
            return bool(t) and t['client_key'] == client_key and t.get('approved', False)

    def get_access_token_secret(self, client_key, token, request):
        with self.store.lock:
            t = self.store.request_tokens.get(token)
            return t['secret'] if t and t['client_key'] == client_key else 'dummy-secret'


class Handler(op.Handler):
    def _authorize(self, args):
        uri, method, body, headers = args
        if method == 'GET':
            query = dict(parse_qsl(urlsplit(uri).query, keep_blank_values=True))
            with self.store.lock:
                t = self.store.request_tokens.get(query.get('oauth_token', ''))
                if t is not None and 'oauth_callback' in query:
                    t['callback_1_0'] = query['oauth_callback']
                    if self.config.get('send_verifier'):
                        t['callback'] = query['oauth_callback']  # where oauthlib's approval redirects
            return super()._authorize(args)
        form = dict(parse_qsl(body, keep_blank_values=True))
        if form.get('decision') != 'approve' or self.config.get('send_verifier'):
            return super()._authorize(args)
        token = form.get('oauth_token', '')
        with self.store.lock:
            t = self.store.request_tokens.get(token)
            if t is None:
                return self._send(400, '<p>Unknown request token.</p>', 'text/html; charset=utf-8')
            t['approved'] = True
            callback = t.get('callback_1_0')
        if callback is None:
            return self._send(200, '<p>Approved: return to the application.</p>', 'text/html; charset=utf-8')
        sep = '&' if '?' in callback else '?'
        return self._send(302, '', 'text/plain', {'Location': f"{callback}{sep}{urlencode({'oauth_token': token})}"})

    def _token_response(self, endpoint, args):
        if isinstance(endpoint, RequestTokenEndpoint):
            return self._issue('request_token', SignatureOnlyEndpoint(self.validator).validate_request, args)
        if not isinstance(endpoint, AccessTokenEndpoint) or self.config.get('send_verifier'):
            return super()._token_response(endpoint, args)
        signed_by_request_token = ResourceEndpoint(RequestTokenSigns(self.config, self.store)).validate_protected_resource_request
        return self._issue('access_token', signed_by_request_token, args)

    def _issue(self, kind, validate, args):
        """A 1.0 token step: the request checked by `validate` (oauthlib), logged with its oauth_* names, then a new token pair."""
        uri, method, body, headers = args
        valid, request = validate(uri, http_method=method, body=body, headers=headers)
        sent = sorted(request.oauth_params) if request is not None else []
        with self.store.lock:
            self.store.token_calls.append({'endpoint': kind, 'uri': uri, 'status': 200 if valid else 401, 'oauth_params': sent})
            if not valid:
                log = dict(getattr(request, 'validator_log', {}) if request else {})
                return self._send(401, urlencode({'error': 'invalid_request', 'validator_log': repr(log)}), op.FORM)
            issued = {'oauth_token': secrets.token_hex(12), 'oauth_token_secret': secrets.token_hex(12)}
            if kind == 'request_token':
                self.store.request_tokens[issued['oauth_token']] = {
                    'client_key': request.client_key, 'token': issued['oauth_token'], 'secret': issued['oauth_token_secret'],
                    'callback': 'oob', 'realms': [], 'verifier': None}
            else:
                self.store.request_tokens.pop(request.resource_owner_key, None)
                self.store.access_tokens[(request.client_key, issued['oauth_token'])] = {
                    'client_key': request.client_key, 'token': issued['oauth_token'],
                    'secret': issued['oauth_token_secret'], 'realms': []}
        reply = urlencode(issued)
        if kind == 'request_token' and 'request_token_reply' in self.config:
            reply = op.reshape_reply(reply, self.config['request_token_reply'])
        return self._send(200, reply, op.FORM)
