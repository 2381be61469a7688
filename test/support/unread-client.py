"""A TLS caller that sends before it reads: its receive buffer is small (SO_RCVBUF) and it reads
nothing until told, so what the gateway answers meanwhile waits in the gateway's send queue, as
over a slow link. It writes the bytes of its first stdin line (JSON string) whole, then one more chunk of
the body it is uploading every 20 ms (printing `sent` after each, `refused` once the connection
refuses them) until stdin says `read`; then
it reads to the end and prints {"received": base64, "error": str|null} as its last line.
Arguments: port, server name (`-`: plain TCP, no TLS), CA file, receive buffer size, and optionally
a client certificate file (its chain after it) and its key."""
import base64, json, select, socket, ssl, sys

port, name, ca, rcvbuf = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
raw.connect(('127.0.0.1', port))
context = ssl.create_default_context(cafile=ca)
if len(sys.argv) > 6:
    context.load_cert_chain(sys.argv[5], sys.argv[6])
tls = raw if name == '-' else context.wrap_socket(raw, server_hostname=name)
uploading = True
try:
    tls.sendall(json.loads(sys.stdin.readline()).encode('latin1'))
except OSError:
    uploading = False
print('sent' if uploading else 'refused', flush=True)
while True:
    ready, _, _ = select.select([sys.stdin], [], [], 0.02)
    if ready and sys.stdin.readline().strip() == 'read':
        break
    if uploading:
        try:
            tls.sendall(b'a' * 64)
        except OSError:
            uploading = False
    print('sent' if uploading else 'refused', flush=True)
received, error = b'', None
try:
    while True:
        chunk = tls.recv(65536)
        if not chunk:
            break
        received += chunk
except (OSError, ssl.SSLError) as e:
    error = type(e).__name__
print(json.dumps({'received': base64.b64encode(received).decode(), 'error': error}), flush=True)
