"""Password hashing with Argon2id (RFC 9106) through argon2-cffi.

Parameters: Argon2id, 3 passes over 64 MiB with 4 lanes, a 16-byte random salt and a
32-byte tag. This is the second recommended option of RFC 9106 section 4 ("uniformly safe"
for memory-constrained environments), and argon2-cffi's own default profile
(``RFC_9106_LOW_MEMORY``). Why not the first option (2 GiB): the platform runs on modest
appliances and hashes at every login; 64 MiB costs about 0.2 s on two cores, which an
interactive login tolerates, while costing an attacker with a GPU far more than the
OWASP floor (19 MiB, t=2). The parameters are stored in every hash, so raising them later
only needs :meth:`Hasher.needs_rehash` at the next successful login.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from argon2 import PasswordHasher, Type, profiles
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

DEFAULT_PARAMETERS = profiles.RFC_9106_LOW_MEMORY


def _default_hasher() -> PasswordHasher:
    return PasswordHasher.from_parameters(DEFAULT_PARAMETERS)


@dataclass(frozen=True)
class Hasher:
    """Hashes and verifies passwords; the parameters are fixed per instance."""

    argon2: PasswordHasher = field(default_factory=_default_hasher)

    @classmethod
    def with_cost(cls, *, time_cost: int, memory_kib: int, parallelism: int) -> Hasher:
        """An Argon2id hasher with other costs (tests use cheap ones; hashes stay argon2id)."""
        return cls(
            PasswordHasher(
                time_cost=time_cost,
                memory_cost=memory_kib,
                parallelism=parallelism,
                hash_len=DEFAULT_PARAMETERS.hash_len,
                salt_len=DEFAULT_PARAMETERS.salt_len,
                type=Type.ID,
            )
        )

    def hash(self, password: str) -> str:
        """The encoded Argon2id hash (parameters and salt included) of ``password``."""
        return self.argon2.hash(password)

    def verify(self, encoded: str, password: str) -> bool:
        """Whether ``password`` matches ``encoded``; a malformed hash never matches."""
        try:
            return self.argon2.verify(encoded, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, encoded: str) -> bool:
        """Whether ``encoded`` was made with other parameters than this hasher's."""
        try:
            return self.argon2.check_needs_rehash(encoded)
        except (InvalidHashError, ValueError):
            return True

    def dummy_verify(self, password: str) -> None:
        """Spend the time of one verification, so an unknown user answers as slowly as a known."""
        self.verify(self._dummy, password)

    @property
    def _dummy(self) -> str:
        cached: str | None = self.__dict__.get("_dummy_hash")
        if cached is None:
            cached = self.argon2.hash("shaobing-dummy-password")
            object.__setattr__(self, "_dummy_hash", cached)
        return cached
