"""Networks from weight cards: the one way a card becomes a network with its weights in.

The API loads every model through here, and training loads the frozen image stage of a
cascade video model through here too, so both check the same checksum and the same names.
"""
from __future__ import annotations

from torch import nn

from restore.errors import ConfigError, WeightsError
from restore.io.checkpoints import load_state, read_state_dict
from restore.io.weights_card import WeightsCard, verify_checksum


def build_network(card: WeightsCard) -> nn.Module:
    """The card's arch built with the card's config, after checking both without allocating."""
    from restore.archs.construct import build_network as build

    try:
        return build(card.arch, card.config)
    except ConfigError as error:
        raise WeightsError(f"model {card.name!r}: {error}") from None


def load_network(card: WeightsCard) -> nn.Module:
    """The card's network with its weights (float32, CPU), once the file's sha256 matches the card."""
    weights = verify_checksum(card)
    net = build_network(card)
    load_state(net, read_state_dict(weights), card.name)
    return net
