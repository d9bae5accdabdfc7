"""The rules of Blob (RULES.md): states, information-state encoding and determinization."""

from blobrl.game.core import (
    BID_BASE,
    MAX_CARDS,
    MAX_PLAYERS,
    NUM_ACTIONS,
    NUM_CARDS,
    STATE_SIZE,
)
from blobrl.game.determinize import determinize
from blobrl.game.encoding import FEATURES, encode
from blobrl.game.fullgame import FullGame, RoundSpec, round_schedule
from blobrl.game.state import (
    BlobState,
    GameError,
    IllegalActionError,
    action_name,
    card_name,
    check_deal_size,
    feasible_deals,
    from_deal,
    new_game,
    parse_card,
)

__all__ = [
    "BID_BASE",
    "FEATURES",
    "MAX_CARDS",
    "MAX_PLAYERS",
    "NUM_ACTIONS",
    "NUM_CARDS",
    "STATE_SIZE",
    "BlobState",
    "FullGame",
    "GameError",
    "IllegalActionError",
    "RoundSpec",
    "action_name",
    "card_name",
    "check_deal_size",
    "determinize",
    "encode",
    "feasible_deals",
    "from_deal",
    "new_game",
    "parse_card",
    "round_schedule",
]
