#!/usr/bin/python3
"""Independent JWE maker for the caller tests: python3-jwcrypto, not jose.

Reads one JSON object on stdin:
  {"key": <public key PEM string or JWK object>, "alg": "RSA-OAEP"|"RSA1_5",
   "enc": "A128CBC-HS256"|"A128GCM"|"A256GCM", "kid": <optional string>, "payload": <string>}
and prints the compact JWE. Run with /usr/bin/python3 (Debian's jwcrypto lives there).
"""
import json
import sys

from jwcrypto import jwe, jwk


def main() -> None:
    req = json.load(sys.stdin)
    key = req["key"]
    if isinstance(key, str):
        public = jwk.JWK.from_pem(key.encode("ascii"))
    else:
        public = jwk.JWK(**key)
    header = {"alg": req["alg"], "enc": req["enc"], "cty": "JWT"}
    if req.get("kid") is not None:
        header["kid"] = req["kid"]
    # RSA1_5 is not in jwcrypto's default allow-list (same padding-oracle concern); name it.
    token = jwe.JWE(
        req["payload"].encode("utf-8"),
        protected=json.dumps(header),
        algs=[req["alg"], req["enc"]],
    )
    token.add_recipient(public)
    sys.stdout.write(token.serialize(compact=True))


if __name__ == "__main__":
    main()
