"""The fleet's health probe: a server that is not ready yet, or not an HTTP server, reads as no answer, never as an
exception."""

from __future__ import annotations

import socket
import threading

from patchorch.testing.fleet._probe import LOOPBACK, get_health


def test_a_server_answering_without_an_http_status_line_is_no_answer() -> None:
    """A listener on 127.0.0.1 that answers with something not HTTP (an SSH banner) and closes: get_health says
    None, where it used to raise BadStatusLine and stop the fleet's creation."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind((LOOPBACK, 0))
        listener.listen(1)
        port = listener.getsockname()[1]

        def close_one() -> None:
            connection, _ = listener.accept()
            connection.recv(1024)
            connection.sendall(b"SSH-2.0-OpenSSH_9.2\r\n")
            connection.close()

        closer = threading.Thread(target=close_one)
        closer.start()
        assert get_health(f"http://{LOOPBACK}:{port}/health", timeout=5) is None
        closer.join(timeout=5)
