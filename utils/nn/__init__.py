"""The PyTorch family: the same ideas as :mod:`utils.scratch`, batched and trained with autograd.

==============  ===============================================================================
``attention``   masked softmax, the scores (dot, scaled dot, general, additive), local windows,
                the attention layer (score x masked softmax x weighted sum)
``rnn``         the peephole LSTM (torch.nn has none); weight conversion to and from utils.scratch
``config``      ModelConfig, AttentionConfig (score x placement) and its presets, TrainConfig
``encoder``     stacked / residual / bidirectional RNNs, the encoder, the bridge to the decoder
``decoder``     the decoder state and the plain, Luong and Bahdanau decoders
``model``       Seq2Seq: translate, beam search, attention weights, log-probabilities, trace
``train``       train_seq2seq: one call from pairs of strings to a trained model
``masking``     padding and causal masks, scaled dot-product attention, tiny self-attention models
==============  ===============================================================================
"""
from .attention import *  # noqa: F401,F403
from .config import *  # noqa: F401,F403
from .decoder import *  # noqa: F401,F403
from .encoder import *  # noqa: F401,F403
from .masking import *  # noqa: F401,F403
from .model import *  # noqa: F401,F403
from .rnn import *  # noqa: F401,F403
from .train import *  # noqa: F401,F403
