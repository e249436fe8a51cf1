"""Parameters of the recurrent recommenders (RNN, RNN Concat, HRNN Init, HRNN All).

Storage: ``item_in`` [n_items + 1, 3H or E] (one-hot input rows, or item embeddings; width 0
with a constrained embedding, whose input rows are ``item_out``'s first H columns),
``item_out`` [n_items + 1, H + 1] (output item vectors; the last column is the output bias) and
``dense`` (every other parameter, flattened into one vector; :meth:`RecurrentNetwork.dense_views`
names its parts). The extra last row of the item tables is padding for idle slots: it stays
zero and is never scored.

Initialisation (as GRU4Rec): every weight block [fan_in, fan_out] (each gate separately) is
uniform in +-sqrt(6 / (fan_in + fan_out)); biases are zero.
"""
from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from engine.models.spec import NetworkSpec
from engine.models.step import StepInputs, forward_step


def _uniform_blocks(target: Tensor, block_width: int, generator: torch.Generator) -> None:
    """Fill ``target`` [fan_in, k * block_width], the weights of k gates side by side, uniformly in
    +-sqrt(6 / (fan_in + block_width)) (the bound of one gate's block)."""
    fan_in = target.shape[0]
    bound = math.sqrt(6.0 / (fan_in + block_width))
    values = torch.rand(target.shape, generator=generator, dtype=target.dtype)
    target.copy_(values.mul_(2 * bound).sub_(bound))


class RecurrentNetwork(nn.Module):
    """The weights of one trained or training model, and its eval-mode step (no dropout)."""

    def __init__(self, spec: NetworkSpec, seed: int = 0) -> None:
        super().__init__()
        self.spec = spec
        rows = spec.n_items + 1
        self.item_in = nn.Parameter(torch.zeros(rows, spec.item_in_width), requires_grad=False)
        self.item_out = nn.Parameter(torch.zeros(rows, spec.session_units + 1), requires_grad=False)
        size = sum(math.prod(shape) for shape in spec.dense_shapes.values())
        self.dense = nn.Parameter(torch.zeros(size), requires_grad=False)
        self._initialize(torch.Generator().manual_seed(seed))

    def _initialize(self, generator: torch.Generator) -> None:
        spec, n = self.spec, self.spec.n_items
        if spec.item_in_width:
            _uniform_blocks(self.item_in.data[:n], spec.embedding_size or spec.session_units, generator)
        _uniform_blocks(self.item_out.data[:n, :-1], spec.session_units, generator)
        for name, view in self.dense_views().items():
            if view.dim() == 2:  # a weight matrix: one block per gate of the layer it feeds
                width = spec.user_units if name.startswith("user.") else spec.session_units
                _uniform_blocks(view, width, generator)

    def dense_views(self, flat: Tensor | None = None) -> dict[str, Tensor]:
        """Name -> view into ``flat`` (default: the dense parameters) with the parameter's shape."""
        flat = self.dense.data if flat is None else flat
        views: dict[str, Tensor] = {}
        offset = 0
        for name, shape in self.spec.dense_shapes.items():
            size = math.prod(shape)
            views[name] = flat[offset: offset + size].view(shape)
            offset += size
        return views

    def input_rows(self) -> Tensor:
        """The table an item's input row is looked up in: ``item_in``, or with a constrained
        embedding the output vectors (a view of ``item_out`` without its bias column)."""
        if self.spec.constrained_embedding:
            return self.item_out.data[:, :-1]
        return self.item_in.data

    def new_state(self, batch: int) -> tuple[Tensor, Tensor]:
        """Zero session state [B, Hs] and user state [B, Hu] on the parameters' device."""
        device = self.dense.device
        return (torch.zeros(batch, self.spec.session_units, device=device),
                torch.zeros(batch, self.spec.user_units, device=device))

    @torch.no_grad()
    def advance(self, inputs: StepInputs, s: Tensor, c: Tensor) -> tuple[Tensor, Tensor]:
        """Eval-mode step (no dropout): new session state [B, Hs] and user state [B, Hu]."""
        s_new, c_new, _ = forward_step(self.spec, self.dense_views(), self.input_rows(), inputs, s, c, None)
        return s_new, c_new

    @torch.no_grad()
    def score_items(self, s: Tensor) -> Tensor:
        """float32 [B, n_items]: pre-activation scores of every item given session states [B, H]."""
        table = self.item_out[: self.spec.n_items]
        return torch.addmm(table[:, -1], s, table[:, :-1].T)

    @torch.no_grad()
    def output_columns(self, items: Tensor) -> tuple[Tensor, Tensor]:
        """The output vectors of ``items`` [m], transposed and contiguous [H, m], and their biases [m]:
        what scoring the same items for many states multiplies by."""
        table = self.item_out.index_select(0, items)  # [m, H + 1]
        return table[:, :-1].T.contiguous(), table[:, -1].contiguous()

    def score_items_of(self, s: Tensor, items: Tensor) -> Tensor:
        """float32 [B, m]: the pre-activation scores of items ``items`` [m] only."""
        table = self.item_out.index_select(0, items)  # [m, H + 1]
        return torch.addmm(table[:, -1], s, table[:, :-1].T)
