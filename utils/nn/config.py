"""What a seq2seq model is made of and how it is trained: three small settings objects.

* :class:`AttentionConfig`: the two choices attention is made of, **the score** (dot, general,
  additive, ...) and **where the layer sits** (Luong: after the decoder RNN; Bahdanau: before
  it, its context fed into the RNN step), plus Luong's attentional layer, input feeding and the
  local window. :data:`ATTENTION_PRESETS` names the combinations the chapters use.
* :class:`ModelConfig`: cell, sizes, layers, residual connections, bidirectional encoder, the
  bridge from the encoder's final states to the decoder's initial state, attention.
* :class:`TrainConfig`: epochs, batch size, learning rate and its schedule, clipping, seed.

Each setting has one default, stated here and nowhere else. Every field is checked when the
object is made, so a typo fails at once with a message that names it::

    ModelConfig(hidden_size=128, attention="bahdanau")
    ModelConfig(layers=4, residual=True, bidirectional=True, attention=ATTENTION_PRESETS["luong-general"])
    TrainConfig(epochs=8, lr=3e-3)
"""
from __future__ import annotations

from dataclasses import dataclass, fields, replace

from ..validate import boolean, finite_float, nonnegative_int, one_of, positive_float, positive_int

__all__ = ["AttentionConfig", "ATTENTION_PRESETS", "ModelConfig", "TrainConfig", "CELLS", "BRIDGES",
           "PLACEMENTS", "WINDOWS", "resolve_attention"]

CELLS = ("lstm", "gru")
PLACEMENTS = ("luong", "bahdanau")
WINDOWS = (None, "local-m", "local-p")
#: How the encoder's final states become the decoder's initial state (see utils.nn.encoder.Bridge).
BRIDGES = ("copy", "linear", "sum", "backward", "zeros")
_SCORE_NAMES = ("dot", "scaled-dot", "general", "additive", "concat")


@dataclass(frozen=True)
class AttentionConfig:
    """Attention = a score x a placement.

    score: "dot", "scaled-dot", "general", "additive" or "concat" (see utils.nn.attention).
    placement: "luong" (query s_t, the decoder state *after* this step's RNN update; the
        context joins s_t on the way to the output layer) or "bahdanau" (query s_{t-1}, the
        state *before* the update; the context is fed into the RNN step with y_{t-1}).
    attentional_layer: Luong only. True: h~_t = tanh(W_c [c_t; s_t]) feeds the output layer
        (Luong et al. 2015). False: the output layer reads [c_t; s_t] directly (chapter 03's model).
    input_feeding: Luong only. Feed h~_{t-1} (or [c_{t-1}; s_{t-1}]) into the next step's RNN
        input, so the decoder knows where it looked; it makes the decoder step-by-step again.
    window: None (global: every source position), "local-m" or "local-p" (Luong's local
        attention over 2D + 1 positions around p_t); window_size is D.
    attn_size: size of the additive score's hidden layer (default: the decoder's hidden size).
    """

    score: str = "dot"
    placement: str = "luong"
    attentional_layer: bool = True
    input_feeding: bool = False
    window: str | None = None
    window_size: int = 2
    attn_size: int | None = None

    def __post_init__(self):
        one_of("score", self.score, _SCORE_NAMES)
        one_of("placement", self.placement, PLACEMENTS)
        boolean("attentional_layer", self.attentional_layer)
        boolean("input_feeding", self.input_feeding)
        one_of("window", self.window, WINDOWS)
        object.__setattr__(self, "window_size", positive_int("window_size", self.window_size))
        if self.attn_size is not None:
            object.__setattr__(self, "attn_size", positive_int("attn_size", self.attn_size))
        if self.placement == "bahdanau" and (self.input_feeding or self.window is not None):
            raise ValueError("input_feeding and local windows are Luong's (placement='luong'): Bahdanau's decoder "
                             "already feeds its context into the RNN step and attends globally")


#: The attention variants by the names the chapters use.
ATTENTION_PRESETS: dict[str, AttentionConfig] = {
    # Chapter 03's model: dot score after the RNN, the output layer reads [c_t; s_t].
    "dot": AttentionConfig(score="dot", attentional_layer=False),
    # Bahdanau et al. 2015: additive score with the previous state, context into the RNN step.
    "bahdanau": AttentionConfig(score="additive", placement="bahdanau"),
    # Luong et al. 2015, global attention with the attentional layer tanh(W_c [c_t; s_t]).
    "luong-dot": AttentionConfig(score="dot"),
    "luong-general": AttentionConfig(score="general"),
    "luong-concat": AttentionConfig(score="concat"),
    "scaled-dot": AttentionConfig(score="scaled-dot"),
    # Luong's local attention (with the general score, as in the paper), D = 2.
    "local-m": AttentionConfig(score="general", window="local-m"),
    "local-p": AttentionConfig(score="general", window="local-p"),
}


def resolve_attention(attention) -> AttentionConfig | None:
    """None, a preset name or an :class:`AttentionConfig` -> an AttentionConfig (or None)."""
    if attention is None or isinstance(attention, AttentionConfig):
        return attention
    if isinstance(attention, str):
        if attention not in ATTENTION_PRESETS:
            raise ValueError(f"unknown attention {attention!r}; known: None (no attention), "
                             f"{', '.join(map(repr, ATTENTION_PRESETS))}, or a utils.AttentionConfig")
        return ATTENTION_PRESETS[attention]
    raise TypeError(f"attention must be None, a preset name such as 'dot' or a utils.AttentionConfig, got "
                    f"{type(attention).__name__}: {attention!r}")


@dataclass(frozen=True)
class ModelConfig:
    """The shape of a :class:`utils.Seq2Seq` model.

    cell: "lstm" or "gru", in encoder and decoder. embed_size / hidden_size: embeddings and the
        decoder's state s_t. encoder_hidden_size: each encoder direction's size (default
        hidden_size; a bidirectional encoder's states h_j = [fwd; bwd] have twice this size).
    layers: stacked RNN layers, in the encoder and in the decoder. residual: add each stacked
        layer's input to its output (y = x + RNN(x)) from the second layer on (chapter 07).
    dropout: dropout between stacked layers (applied to a layer's output before the next one).
    bidirectional: the encoder reads the source both ways (chapter 06).
    bridge: how the encoder's final states become the decoder's initial state: "copy" (as they
        are: needs one direction and equal sizes), "linear" (tanh(W [fwd; bwd]) per layer),
        "sum" (fwd + bwd), "backward" (the backward direction's only), "zeros" (no bridge: the
        decoder starts from zeros). None picks "copy" where it applies, else "linear".
    attention: None, a preset name ("dot", "bahdanau", "luong-general", ...) or an AttentionConfig.
    peeky: without attention, the decoder reads the context vector c = h_T at every step, not
        only as its initial state (the textbook's peeky decoder; chapter 02).
    reverse_source: feed the source backwards (Sutskever et al.'s trick).
    """

    cell: str = "lstm"
    embed_size: int = 32
    hidden_size: int = 64
    encoder_hidden_size: int | None = None
    layers: int = 1
    residual: bool = False
    dropout: float = 0.0
    bidirectional: bool = False
    bridge: str | None = None
    attention: AttentionConfig | str | None = None
    peeky: bool = False
    reverse_source: bool = False

    def __post_init__(self):
        one_of("cell", self.cell, CELLS)
        for name in ("embed_size", "hidden_size", "layers"):
            object.__setattr__(self, name, positive_int(name, getattr(self, name)))
        if self.encoder_hidden_size is not None:
            size = positive_int("encoder_hidden_size", self.encoder_hidden_size)
            object.__setattr__(self, "encoder_hidden_size", size)
        for name in ("residual", "bidirectional", "reverse_source", "peeky"):
            object.__setattr__(self, name, boolean(name, getattr(self, name)))
        object.__setattr__(self, "dropout", finite_float("dropout", self.dropout, low=0.0, high=0.99))
        object.__setattr__(self, "attention", resolve_attention(self.attention))
        if self.peeky and self.attention is not None:
            raise ValueError("peeky=True is for the plain decoder (attention=None): with attention the decoder "
                             "already reads the source at every step")
        if self.bridge is not None:
            one_of("bridge", self.bridge, BRIDGES)
        if self.resolved_bridge == "copy" and (self.bidirectional or self.enc_size != self.hidden_size):
            raise ValueError(
                "bridge='copy' hands the encoder's final state to the decoder as it is, which needs a one-direction "
                f"encoder of the decoder's size (got bidirectional={self.bidirectional}, encoder size "
                f"{self.enc_size}, decoder size {self.hidden_size}): use bridge='linear', 'sum' or 'backward'"
            )
        if self.resolved_bridge in ("sum", "backward") and not self.bidirectional:
            raise ValueError(f"bridge={self.bridge!r} combines the two directions of a bidirectional encoder; "
                             "this encoder has one (use 'copy' or 'linear')")
        if self.resolved_bridge in ("sum", "backward") and self.enc_size != self.hidden_size:
            raise ValueError(f"bridge={self.bridge!r} passes one direction's state (size {self.enc_size}) to a decoder "
                             f"of size {self.hidden_size}: make encoder_hidden_size equal hidden_size or use 'linear'")

    @property
    def enc_size(self) -> int:
        """Each encoder direction's state size."""
        return self.hidden_size if self.encoder_hidden_size is None else self.encoder_hidden_size

    @property
    def memory_size(self) -> int:
        """Size of the encoder states h_j that attention reads: (1 or 2 directions) x enc_size."""
        return self.enc_size * (2 if self.bidirectional else 1)

    @property
    def resolved_bridge(self) -> str:
        if self.bridge is not None:
            return self.bridge
        return "copy" if not self.bidirectional and self.enc_size == self.hidden_size else "linear"

    def replace(self, **changes) -> "ModelConfig":
        """A copy with some fields changed (``dataclasses.replace``)."""
        return replace(self, **changes)


@dataclass(frozen=True)
class TrainConfig:
    """How :func:`utils.train_seq2seq` trains.

    epochs: the most epochs (early stopping may end sooner). batch_size: pairs per step.
    lr: Adam's learning rate, kept for the first ``epochs - decay_epochs`` epochs, then decayed
        linearly to ``lr * final_lr_fraction`` over the last ``decay_epochs`` epochs (large steps
        to learn fast, small ones to settle), by a ``torch.optim.lr_scheduler.LambdaLR``.
    clip: the largest global gradient norm (None: no clipping). seed: weights and data order.
    """

    epochs: int = 5
    batch_size: int = 64
    lr: float = 5e-3
    decay_epochs: int = 2
    final_lr_fraction: float = 0.1
    clip: float | None = 1.0
    seed: int = 0

    def __post_init__(self):
        object.__setattr__(self, "epochs", positive_int("epochs", self.epochs))
        object.__setattr__(self, "batch_size", positive_int("batch_size", self.batch_size))
        object.__setattr__(self, "lr", positive_float("lr", self.lr))
        object.__setattr__(self, "decay_epochs", nonnegative_int("decay_epochs", self.decay_epochs))
        object.__setattr__(self, "final_lr_fraction", finite_float("final_lr_fraction", self.final_lr_fraction,
                                                                   low=0.0, high=1.0, low_open=True))
        if self.clip is not None:
            object.__setattr__(self, "clip", positive_float("clip", self.clip))
        object.__setattr__(self, "seed", nonnegative_int("seed", self.seed))

    def lr_factor(self, epoch: int) -> float:
        """The learning rate of ``epoch`` (0-based) as a fraction of ``lr``."""
        decay_start = max(self.epochs - self.decay_epochs, 0)
        if epoch < decay_start:
            return 1.0
        progress = (epoch - decay_start + 1) / max(self.epochs - decay_start, 1)
        return 1.0 - (1.0 - self.final_lr_fraction) * min(progress, 1.0)

    def replace(self, **changes) -> "TrainConfig":
        return replace(self, **changes)


def split_settings(settings: dict) -> tuple[dict, dict]:
    """Sort keyword settings into ModelConfig fields and TrainConfig fields; refuse the rest."""
    model_fields = {f.name for f in fields(ModelConfig)}
    train_fields = {f.name for f in fields(TrainConfig)}
    unknown = sorted(set(settings) - model_fields - train_fields)
    if unknown:
        raise TypeError(f"unknown setting(s) {unknown}: a setting is a field of utils.ModelConfig "
                        f"({', '.join(sorted(model_fields))}) or of utils.TrainConfig "
                        f"({', '.join(sorted(train_fields))})")
    return ({k: v for k, v in settings.items() if k in model_fields},
            {k: v for k, v in settings.items() if k in train_fields})
