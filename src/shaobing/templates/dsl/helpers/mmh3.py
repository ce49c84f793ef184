"""MurmurHash3 x86 32-bit (Austin Appleby's public-domain algorithm), as Nuclei's mmh3."""

from __future__ import annotations

_C1 = 0xCC9E2D51
_C2 = 0x1B873593
_MASK = 0xFFFFFFFF


def _rotl(value: int, shift: int) -> int:
    return ((value << shift) | (value >> (32 - shift))) & _MASK


def murmur3_32(data: bytes, seed: int = 0) -> int:
    """Return the unsigned 32-bit MurmurHash3 of ``data``."""
    h = seed & _MASK
    length = len(data)
    body = length - length % 4
    for i in range(0, body, 4):
        k = int.from_bytes(data[i : i + 4], "little")
        k = (_rotl((k * _C1) & _MASK, 15) * _C2) & _MASK
        h = (_rotl(h ^ k, 13) * 5 + 0xE6546B64) & _MASK
    tail = data[body:]
    if tail:
        k = int.from_bytes(tail, "little")
        k = (_rotl((k * _C1) & _MASK, 15) * _C2) & _MASK
        h ^= k
    h ^= length
    h ^= h >> 16
    h = (h * 0x85EBCA6B) & _MASK
    h ^= h >> 13
    h = (h * 0xC2B2AE35) & _MASK
    h ^= h >> 16
    return h


def mmh3_signed(data: bytes) -> int:
    """The hash as a signed 32-bit integer (the form Shodan and Nuclei print)."""
    value = murmur3_32(data)
    return value - (1 << 32) if value >= 1 << 31 else value
