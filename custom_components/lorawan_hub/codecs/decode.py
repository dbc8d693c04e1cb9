"""Choose a codec for an uplink and decode it to flat fields."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from .cayenne import decode_cayenne_lpp, decode_plausible_cayenne_lpp
from .fields import flatten
from .result import DecodeError, DecodeResult

AUTO: Final = "auto"
SERVER: Final = "server"
CAYENNE_LPP: Final = "cayenne_lpp"
RAW: Final = "raw"
CHOICES: Final = (AUTO, SERVER, CAYENNE_LPP, RAW)


@dataclass(slots=True)
class Decoded:
    """The outcome of decoding one uplink: the fields (maybe none) and which codec gave them."""

    result: DecodeResult
    codec: str
    error: str | None = None


def decode(
    payload: bytes,
    server_decoded: Mapping[str, Any] | None,
    choice: str,
    f_port: int | None = None,
) -> Decoded:
    """
    Decode with the chosen codec; ``auto`` takes the server's, else Cayenne LPP, else raw.

    ``auto`` takes Cayenne LPP only when the payload is plausibly Cayenne (on its port); the
    explicit ``cayenne_lpp`` choice decodes whatever parses.

    Never raises: a failed decode keeps no fields and says why. The raw payload stays with the
    uplink whatever happens here.
    """
    if choice in (AUTO, SERVER) and server_decoded:
        return Decoded(flatten(server_decoded), SERVER)
    if choice == AUTO and payload:
        try:
            return Decoded(decode_plausible_cayenne_lpp(payload, f_port), CAYENNE_LPP)
        except DecodeError:
            return Decoded(DecodeResult(fields={}), RAW)
    if choice == CAYENNE_LPP:
        try:
            return Decoded(decode_cayenne_lpp(payload), CAYENNE_LPP)
        except DecodeError as err:
            return Decoded(DecodeResult(fields={}), CAYENNE_LPP, str(err))
    return Decoded(DecodeResult(fields={}), SERVER if choice == SERVER else RAW)
