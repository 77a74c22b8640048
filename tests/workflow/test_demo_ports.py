"""The demo's loopback ports: preferred ones when free, distinct fallbacks when taken."""

from __future__ import annotations

import socket

from devstack.demo import pick_ports


def _busy() -> socket.socket:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    return sock


def test_taken_ports_fall_back_to_distinct_free_ones() -> None:
    first, second = _busy(), _busy()
    try:
        taken = [first.getsockname()[1], second.getsockname()[1]]
        chosen = pick_ports({"a": taken[0], "b": taken[1], "c": taken[0]})
        assert len(set(chosen.values())) == 3
        assert not set(chosen.values()) & set(taken)
    finally:
        first.close()
        second.close()


def test_free_preferred_port_is_kept_and_not_given_to_a_fallback() -> None:
    probe = _busy()
    wanted = probe.getsockname()[1]
    probe.close()  # free now: the preferred port of "a"
    blocker = _busy()
    try:
        chosen = pick_ports({"a": wanted, "b": blocker.getsockname()[1]})
        assert chosen["a"] == wanted
        assert chosen["b"] not in (wanted, blocker.getsockname()[1])
    finally:
        blocker.close()
