<?php
// Verifies HMAC-SHA1-signed requests as PHP's classic OAuth.php library (OAuthRequest::from_request,
// OAuthUtil) reads them, with PHP's own urldecode/rawurlencode: one JSON line in, one out.
// In:  {"uri", "method", "headers": {...}, "body_hex", "client_secret", "token_secret"?}
// Out: {"ok": true|false, "base": "<the base string PHP built>"}
// In:  {"parse": "a=1&b%5B%5D=2"}  Out: {"parsed": {"a": "1", "b": ["2"]}}  -- PHP's parse_str ($_GET, $_POST).
function enc($s) { return str_replace('%7E', '~', rawurlencode($s)); }

// OAuthUtil::parse_parameters: split on "&", then on the first "=", urldecode both; repeats kept.
function parse_parameters($input) {
  $out = [];
  if ($input === '') return $out;
  foreach (explode('&', $input) as $pair) {
    $split = explode('=', $pair, 2);
    $out[] = [urldecode($split[0]), isset($split[1]) ? urldecode($split[1]) : ''];
  }
  return $out;
}

// OAuthUtil::split_header: name="value" pairs after "OAuth", values urldecoded; realm left out.
function split_header($header) {
  $out = [];
  preg_match_all('/([a-z_-]*)=(:?"([^"]*)"|([^,]*))/', $header, $m);
  foreach ($m[1] as $i => $name) {
    if ($name !== 'realm') $out[] = [$name, urldecode(empty($m[3][$i]) ? $m[4][$i] : $m[3][$i])];
  }
  return $out;
}

function verify($msg) {
  if (isset($msg['parse'])) {
    parse_str($msg['parse'], $parsed);
    return ['parsed' => $parsed];
  }
  $parts = parse_url($msg['uri']);
  $params = parse_parameters($parts['query'] ?? '');
  $headers = array_change_key_case($msg['headers'], CASE_LOWER);
  if (isset($headers['authorization']) && strncasecmp($headers['authorization'], 'OAuth ', 6) === 0) {
    $params = array_merge($params, split_header($headers['authorization']));
  }
  if (str_contains($headers['content-type'] ?? '', 'application/x-www-form-urlencoded')) {
    $params = array_merge($params, parse_parameters(hex2bin($msg['body_hex'])));
  }
  $signature = null;
  $kept = [];
  foreach ($params as [$name, $value]) {
    if ($name === 'oauth_signature') $signature = $value; else $kept[] = [enc($name), enc($value)];
  }
  // OAuthUtil::build_http_query: by encoded name, repeats by encoded value (byte order).
  usort($kept, fn($a, $b) => strcmp($a[0], $b[0]) ?: strcmp($a[1], $b[1]));
  $normalized = implode('&', array_map(fn($p) => "$p[0]=$p[1]", $kept));
  $port = isset($parts['port']) && !(($parts['scheme'] === 'https' && $parts['port'] == 443) || ($parts['scheme'] === 'http' && $parts['port'] == 80)) ? ':' . $parts['port'] : '';
  $url = strtolower($parts['scheme']) . '://' . strtolower($parts['host']) . $port . ($parts['path'] ?? '/');
  $base = enc(strtoupper($msg['method'])) . '&' . enc($url) . '&' . enc($normalized);
  $key = enc($msg['client_secret']) . '&' . enc($msg['token_secret'] ?? '');
  $expected = base64_encode(hash_hmac('sha1', $base, $key, true));
  return ['ok' => $signature !== null && hash_equals($expected, $signature), 'base' => $base];
}

while (($line = fgets(STDIN)) !== false) {
  echo json_encode(verify(json_decode($line, true)), JSON_INVALID_UTF8_SUBSTITUTE), "\n";
  flush();
}
