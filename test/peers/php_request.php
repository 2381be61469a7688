<?php
// What PHP itself reads from a request (run as `php -n -S`: no php.ini, so $_REQUEST follows
// variables_order "EGPCS", the body's parameters over the query's), and what Laravel's
// Request::input() reads: the input source (a JSON body's keys when the Content-Type holds
// "/json" or "+json", else $_POST; $_GET for a GET) merged over the query with PHP's "+".
$raw = file_get_contents('php://input');
$type = $_SERVER['CONTENT_TYPE'] ?? '';
$isJson = str_contains($type, '/json') || str_contains($type, '+json');
$source = $isJson ? (array) json_decode($raw, true) : ($_SERVER['REQUEST_METHOD'] === 'GET' ? $_GET : $_POST);
header('content-type: application/json');
echo json_encode([
  'request' => (object) $_REQUEST,
  'get' => (object) $_GET,
  'post' => (object) $_POST,
  'files' => array_keys($_FILES),
  'input' => (object) ($source + $_GET),
], JSON_INVALID_UTF8_SUBSTITUTE | JSON_PARTIAL_OUTPUT_ON_ERROR);
