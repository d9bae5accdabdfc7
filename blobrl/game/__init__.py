"""The rules of Blob (RULES.md): states, information-state encoding and determinization."""

from blobrl.game.checks import GameError, IllegalActionError, check_deal_size, feasible_deals
from blobrl.game.core import (
    BID_BASE,
    MAX_CARDS,
    MAX_PLAYERS,
    NUM_ACTIONS,
    NUM_CARDS,
    STATE_SIZE,
)
from blobrl.game.deal import from_deal, new_game
from blobrl.game.determinize import determinize
from blobrl.game.encoding import FEATURES, encode
from blobrl.game.fullgame import FullGame, RoundSpec, round_schedule
from blobrl.game.names import action_name, card_name, parse_card
from blobrl.game.state import BlobState

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
