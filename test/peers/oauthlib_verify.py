"""Verifies HMAC-SHA1-signed requests with python3-oauthlib, one JSON line in, one out.

In:  {"uri": ..., "method": ..., "headers": {...}, "body_hex": ..., "client_secret": ...}
Out: {"ok": true|false, "error": "..."}  -- the request exactly as sent (raw body bytes), read by
oauthlib's own endpoint code (form detection, parameter collection) and its signature check.
In:  {"parse": "a=1&b%5B%5D=2"}  Out: {"pairs": [["a", "1"], ["b[]", "2"]]}  -- urllib's parse_qsl.
"""
import json
import sys
from urllib.parse import parse_qsl

from oauthlib.oauth1 import RequestValidator
from oauthlib.oauth1.rfc5849 import signature
from oauthlib.oauth1.rfc5849.endpoints.base import BaseEndpoint


def verify(msg):
    if 'parse' in msg:
        return {'pairs': parse_qsl(msg['parse'], keep_blank_values=True)}
    endpoint = BaseEndpoint(RequestValidator())
    try:
        request = endpoint._create_request(msg['uri'], msg['method'], bytes.fromhex(msg['body_hex']), msg['headers'])
    except Exception as e:  # a raw non-UTF-8 byte: UnicodeDecodeError; oauthlib's refusals: OAuth1Error
        return {'ok': False, 'error': f'{type(e).__name__}: {e}'}
    if request.signature_method != 'HMAC-SHA1':
        return {'ok': False, 'error': f'signature method {request.signature_method!r}'}
    return {'ok': signature.verify_hmac_sha1(request, msg['client_secret'], None)}


for line in sys.stdin:
    sys.stdout.write(json.dumps(verify(json.loads(line))) + '\n')
    sys.stdout.flush()
