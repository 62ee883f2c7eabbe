"""The from-scratch family: NumPy layers with hand-written backward passes.

Each layer is a small class with ``params``, ``grads``, ``forward`` and ``backward`` (the
textbook's style); :mod:`.gradcheck` verifies every backward pass numerically.

=================  =======  =============================================================
module             chapter  what
=================  =======  =============================================================
``rnn``            01       RNN, LSTM, peephole LSTM, GRU over time, with BPTT
``seq2seq``        02       an encoder-decoder from chapter 01's layers, with its backward
``attention``      03       the masked softmax, Attention Weight, Weighted Sum, TimeAttention
``scores``         04       dot, scaled-dot, general, additive, concat scores; local windows
``masking``        05       padding and causal masks, scaled dot-product attention, 80-10-10
``bidirectional``  06       two time layers, one reading each sequence backwards
``residual``       07       residual blocks y = x + F(x), deep stacks, per-layer gradients
``gradcheck``      all      numerical gradients and the gradient check of every layer
=================  =======  =============================================================
"""
from . import seq2seq  # noqa: F401  chapter 02's NumPy seq2seq, by its own names: utils.scratch.seq2seq.Encoder, ...
from .attention import *  # noqa: F401,F403
from .bidirectional import *  # noqa: F401,F403
from .gradcheck import *  # noqa: F401,F403
from .masking import *  # noqa: F401,F403
from .residual import *  # noqa: F401,F403
from .rnn import *  # noqa: F401,F403
from .scores import *  # noqa: F401,F403
