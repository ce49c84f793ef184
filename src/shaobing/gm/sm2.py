"""SM2 digital signatures (GB/T 32918.2-2016) on the recommended curve (GB/T 32918.5-2017).

Points are kept in Jacobian coordinates during scalar multiplication so that only one
modular inversion is needed per multiplication. Signing draws a fresh nonce from
``secrets`` for every signature; the arithmetic is not constant-time, which is acceptable
for test keys and for verification (public data only), and is documented as such.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

from shaobing.core.errors import ValidationError
from shaobing.core.i18n import t
from shaobing.gm import asn1
from shaobing.gm.sm3 import sm3

# Recommended curve parameters, GB/T 32918.5-2017 (also GM/T 0003.5-2012).
P = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFF
A = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFC
B = 0x28E9FA9E9D9F5E344D5A9E4BCF6509A7F39789F515AB8F92DDBCBD414D940E93
N = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123
GX = 0x32C4AE2C1F1981195F9904466A39C9948FE30BBFF2660BE1715A4589334C74C7
GY = 0xBC3736A2F4F6779C59BDCEE36B692153D0A9877CC62A474002DF32E52139F0A0

# The user ID when none was agreed (GB/T 35276-2017, SM2 usage specification).
DEFAULT_USER_ID = b"1234567812345678"
COORD_BYTES = 32
# The ID's length is signalled as a 16-bit count of bits (ENTL_A).
_MAX_ID_BYTES = 0xFFFF // 8

_Jacobian = tuple[int, int, int]
_INFINITY: _Jacobian = (1, 1, 0)


def _double(pt: _Jacobian) -> _Jacobian:
    x1, y1, z1 = pt
    if z1 == 0 or y1 == 0:
        return _INFINITY
    # a = -3 on this curve, so 3x^2 + a z^4 factors as 3 (x - z^2)(x + z^2).
    zz = z1 * z1 % P
    m = 3 * (x1 - zz) * (x1 + zz) % P
    yy = y1 * y1 % P
    s = 4 * x1 * yy % P
    x3 = (m * m - 2 * s) % P
    y3 = (m * (s - x3) - 8 * yy * yy) % P
    return x3, y3, 2 * y1 * z1 % P


def _add(p1: _Jacobian, p2: _Jacobian) -> _Jacobian:
    x1, y1, z1 = p1
    x2, y2, z2 = p2
    if z1 == 0:
        return p2
    if z2 == 0:
        return p1
    z1z1 = z1 * z1 % P
    z2z2 = z2 * z2 % P
    u1 = x1 * z2z2 % P
    u2 = x2 * z1z1 % P
    s1 = y1 * z2 * z2z2 % P
    s2 = y2 * z1 * z1z1 % P
    h = (u2 - u1) % P
    r = (s2 - s1) % P
    if h == 0:
        return _double(p1) if r == 0 else _INFINITY
    hh = h * h % P
    hhh = h * hh % P
    v = u1 * hh % P
    x3 = (r * r - hhh - 2 * v) % P
    y3 = (r * (v - x3) - s1 * hhh) % P
    return x3, y3, z1 * z2 * h % P


def _multiply(k: int, pt: _Jacobian) -> _Jacobian:
    # Fixed 4-bit window: 64 additions instead of ~128 for plain double-and-add.
    table = [_INFINITY, pt]
    for _ in range(14):
        table.append(_add(table[-1], pt))
    acc = _INFINITY
    for shift in range((max(k.bit_length(), 1) + 3) // 4 * 4 - 4, -4, -4):
        for _ in range(4):
            acc = _double(acc)
        acc = _add(acc, table[(k >> shift) & 0xF])
    return acc


def _affine(pt: _Jacobian) -> tuple[int, int] | None:
    x, y, z = pt
    if z == 0:
        return None
    zinv = pow(z, -1, P)
    zinv2 = zinv * zinv % P
    return x * zinv2 % P, y * zinv2 * zinv % P


def _on_curve(x: int, y: int) -> bool:
    return 0 <= x < P and 0 <= y < P and (y * y - (x * x * x + A * x + B)) % P == 0


_G: _Jacobian = (GX, GY, 1)


@dataclass(frozen=True)
class PublicKey:
    """An SM2 public key: a point on the curve other than the point at infinity."""

    x: int
    y: int

    def __post_init__(self) -> None:
        if not _on_curve(self.x, self.y):
            raise ValidationError(t("gm.sm2.bad_point"))

    def to_bytes(self) -> bytes:
        """Uncompressed point encoding ``04 || x || y`` (GB/T 32918.1 4.2.9)."""
        return b"\x04" + self.x.to_bytes(COORD_BYTES, "big") + self.y.to_bytes(COORD_BYTES, "big")

    @classmethod
    def from_bytes(cls, data: bytes) -> PublicKey:
        """Decode an uncompressed (04) or compressed (02/03) point; refuse off-curve points."""
        if len(data) == 1 + 2 * COORD_BYTES and data[0] == 4:
            x = int.from_bytes(data[1 : 1 + COORD_BYTES], "big")
            y = int.from_bytes(data[1 + COORD_BYTES :], "big")
            return cls(x, y)
        if len(data) == 1 + COORD_BYTES and data[0] in (2, 3):
            x = int.from_bytes(data[1:], "big")
            if x >= P:
                raise ValidationError(t("gm.sm2.bad_point"))
            # P = 3 (mod 4), so a square root is a single exponentiation.
            y = pow((x * x * x + A * x + B) % P, (P + 1) // 4, P)
            if y & 1 != data[0] & 1:
                y = P - y
            return cls(x, y)
        raise ValidationError(t("gm.sm2.bad_point"))


@dataclass(frozen=True)
class PrivateKey:
    """An SM2 private key ``d`` in [1, n-2] (n-1 would make 1+d non-invertible)."""

    d: int = field(repr=False)

    def __post_init__(self) -> None:
        if not 1 <= self.d <= N - 2:
            raise ValidationError(t("gm.sm2.bad_private_key"))

    @classmethod
    def generate(cls) -> PrivateKey:
        """A new key from the operating system's CSPRNG."""
        return cls(secrets.randbelow(N - 2) + 1)

    def public_key(self) -> PublicKey:
        """The matching public key ``[d]G``."""
        point = _affine(_multiply(self.d, _G))
        assert point is not None  # d in [1, n-2] never gives infinity
        return PublicKey(*point)

    def to_bytes(self) -> bytes:
        """The 32-byte big-endian scalar."""
        return self.d.to_bytes(COORD_BYTES, "big")


def compute_za(public: PublicKey, user_id: bytes = DEFAULT_USER_ID) -> bytes:
    """Z_A = SM3(ENTL_A || ID_A || a || b || xG || yG || xA || yA), GB/T 32918.2 5.5."""
    if len(user_id) > _MAX_ID_BYTES:
        raise ValidationError(t("gm.sm2.id_too_long"))
    parts = [(len(user_id) * 8).to_bytes(2, "big"), user_id]
    parts += [v.to_bytes(COORD_BYTES, "big") for v in (A, B, GX, GY, public.x, public.y)]
    return sm3(*parts)


def _digest(public: PublicKey, message: bytes, user_id: bytes) -> int:
    return int.from_bytes(sm3(compute_za(public, user_id), message), "big")


def sign(key: PrivateKey, message: bytes, *, user_id: bytes = DEFAULT_USER_ID) -> tuple[int, int]:
    """Sign ``message`` (GB/T 32918.2 6.1): returns ``(r, s)``."""
    e = _digest(key.public_key(), message, user_id)
    inv = pow(1 + key.d, -1, N)
    while True:
        k = secrets.randbelow(N - 1) + 1
        point = _affine(_multiply(k, _G))
        assert point is not None  # k in [1, n-1]
        r = (e + point[0]) % N
        if r == 0 or r + k == N:
            continue
        s = inv * (k - r * key.d) % N
        if s != 0:
            return r, s


def verify(
    public: PublicKey,
    message: bytes,
    signature: tuple[int, int],
    *,
    user_id: bytes = DEFAULT_USER_ID,
) -> bool:
    """Check a signature (GB/T 32918.2 7.1); False for any failure."""
    r, s = signature
    if not (1 <= r < N and 1 <= s < N):
        return False
    e = _digest(public, message, user_id)
    t_ = (r + s) % N
    if t_ == 0:
        return False
    point = _affine(_add(_multiply(s, _G), _multiply(t_, (public.x, public.y, 1))))
    if point is None:
        return False
    return (e + point[0]) % N == r


def encode_signature(signature: tuple[int, int]) -> bytes:
    """DER ``SEQUENCE { r INTEGER, s INTEGER }`` (GB/T 35276-2017; what OpenSSL writes)."""
    r, s = signature
    return asn1.sequence(asn1.integer(r), asn1.integer(s))


def decode_signature(data: bytes) -> tuple[int, int]:
    """Read a DER signature, or a raw 64-byte ``r || s``; refuse anything else."""
    if data[:1] == b"\x30":
        try:
            node = asn1.decode(data, max_size=256)
            r_node, s_node = asn1.children(node, "SM2Signature", minimum=2, maximum=2)
            if node.tag == asn1.SEQUENCE:
                r, s = asn1.read_int(r_node), asn1.read_int(s_node)
                if 1 <= r < N and 1 <= s < N:
                    return r, s
        except asn1.DerError:
            pass
    if len(data) == 2 * COORD_BYTES:
        return int.from_bytes(data[:COORD_BYTES], "big"), int.from_bytes(data[COORD_BYTES:], "big")
    raise ValidationError(t("gm.sm2.bad_signature_encoding", size=len(data)))
