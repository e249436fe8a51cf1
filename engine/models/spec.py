"""The shape of a recurrent recommender network: which layers it has and their sizes."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class NetworkKind:
    """What distinguishes the four recurrent models. ``history_feed``: which training events the
    evaluator feeds before a test session (see :mod:`engine.evaluation.stream_scorer`);
    ``hierarchical``: a user level (HRNN); ``concatenates``: the user's sessions are one sequence
    (RNN Concat)."""

    name: str
    history_feed: str
    hierarchical: bool = False
    concatenates: bool = False


#: The network kinds by name (the model registry gives their labels, presets and search spaces).
NETWORK_KINDS: dict[str, NetworkKind] = {kind.name: kind for kind in (
    NetworkKind("rnn", "none"),
    NetworkKind("rnn-concat", "all_events", concatenates=True),
    NetworkKind("hrnn-init", "session_inputs", hierarchical=True),
    NetworkKind("hrnn-all", "session_inputs", hierarchical=True),
)}

#: How HRNN All feeds the user state c to the session GRU at every step: ``"gates"`` adds c V to
#: the reset and update gates only (the authors' code); ``"input"`` adds it to all three gate
#: blocks, as if c were concatenated to the input (the paper's wording, "in input").
UserFeed = Literal["none", "gates", "input"]


@dataclass(frozen=True)
class NetworkSpec:
    """Sizes of a network. RNN and RNN Concat are the session level alone (``user_units == 0``).
    ``embedding_size == 0`` means one-hot input: a row lookup into an items x 3H matrix.
    ``constrained_embedding`` (GRU4Rec's tied embedding): the input vector of an item is its
    output vector (the first H columns of ``item_out``), followed by a dense H x 3H matrix."""

    n_items: int
    session_units: int
    user_units: int = 0
    embedding_size: int = 0
    user_feed: UserFeed = "none"
    #: The 2017 reference code's session-start update interpolated from the previous session's state.
    compat_2017: bool = False
    constrained_embedding: bool = False
    #: The GRUs apply the reset gate after the recurrent product, with a recurrent candidate bias
    #: (torch's GRUCell, the official GRU4Rec PyTorch code), instead of before it.
    reset_after: bool = False

    @property
    def hierarchical(self) -> bool:
        return self.user_units > 0

    @property
    def pad_item(self) -> int:
        """Index of the padding row of the item tables (input and target of idle slots)."""
        return self.n_items

    @property
    def input_size(self) -> int:
        """Width of an item's input vector before the session GRU's input matrix (0: one-hot)."""
        return self.session_units if self.constrained_embedding else self.embedding_size

    @property
    def item_in_width(self) -> int:
        """Width of the ``item_in`` table (0 with a constrained embedding: it is not used)."""
        if self.constrained_embedding:
            return 0
        return self.embedding_size or 3 * self.session_units

    @property
    def dense_shapes(self) -> dict[str, tuple[int, ...]]:
        """Name -> shape of every dense parameter, in storage order (matrices are [in, out])."""
        hs, hu = self.session_units, self.user_units
        shapes: dict[str, tuple[int, ...]] = {
            "session.u_rz": (hs, 2 * hs), "session.u_h": (hs, hs), "session.bias": (3 * hs,),
        }
        if self.input_size:
            shapes["session.w_in"] = (self.input_size, 3 * hs)
        if self.reset_after:
            shapes["session.bias_hn"] = (hs,)
        if self.user_feed == "gates":
            shapes["session.v_rz"] = (hu, 2 * hs)
        elif self.user_feed == "input":
            shapes["session.v"] = (hu, 3 * hs)
        if self.hierarchical:
            shapes.update({
                "user.w_in": (hs, 3 * hu), "user.u_rz": (hu, 2 * hu), "user.u_h": (hu, hu),
                "user.bias": (3 * hu,), "init.w": (hu, hs), "init.bias": (hs,),
            })
            if self.reset_after:
                shapes["user.bias_hn"] = (hu,)
        # torch.nn.GRUCell's recurrent biases of the reset and update gates (reset after the product):
        # each gate has two biases, both trained, so the pair moves twice as far per step as one
        # bias would. Last in storage order, so that checkpoints written before them load with zeros.
        if self.reset_after:
            shapes["session.bias_hrz"] = (2 * hs,)
            if self.hierarchical:
                shapes["user.bias_hrz"] = (2 * hu,)
        return shapes

    @property
    def recurrent_gate_bias_size(self) -> int:
        """Numbers in the dense parameters that the recurrent gate biases take (0 without them)."""
        return sum(math.prod(shape) for name, shape in self.dense_shapes.items() if name.endswith(".bias_hrz"))


def network_spec(kind: str, n_items: int, session_units: int, user_units: int,
                 embedding_size: int, all_mode: str, compat_2017: bool,
                 constrained_embedding: bool = False, reset_after: bool = False) -> NetworkSpec:
    """The spec of model ``kind`` (a key of :data:`NETWORK_KINDS`)."""
    hierarchical = NETWORK_KINDS[kind].hierarchical
    feed: UserFeed = "none"
    if kind == "hrnn-all":
        feed = "input" if all_mode == "input" else "gates"
    return NetworkSpec(
        n_items=n_items, session_units=session_units,
        user_units=user_units if hierarchical else 0, embedding_size=embedding_size,
        user_feed=feed, compat_2017=compat_2017 and hierarchical, constrained_embedding=constrained_embedding,
        reset_after=reset_after,
    )
