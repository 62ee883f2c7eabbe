"""Shared code of the seq2seq-and-attention course.

Every chapter imports from here (``import utils`` / ``from utils import ...``). Code a chapter
*explains* may be written out in the notebook; code it *reuses* lives here, once.

Modules (one concept each):

=================  ==========================================================
``repro``          ``setup(seed)``: seeding, one torch thread, device choice
``vocab``          ``Vocab``: tokens <-> ids, special tokens, padding a batch
``metrics``        ``exact_match``, ``token_accuracy``, ``edit_distance``
``plots``          ``plot_attention`` heatmaps, ``plot_history`` training curves
``training``       ``fit``: the training loop (progress bar, clipping, early stop)
``checkers``       exercise checkers that say *what* is wrong (one module a chapter)
``datasets``       synthetic tasks, dates, CMUdict, ``load_pairs``/``save_pairs`` files
``scratch``        the NumPy family: RNN/LSTM/GRU with BPTT, attention layers, gradcheck
``nn``             the torch family: attention (score x placement), encoders, decoders,
                   ``Seq2Seq`` (translate, beam search, trace), ``train_seq2seq``
``experiments``    ``length_sweep``, ``accuracy_by_length``, ``teacher_forcing_accuracy``
=================  ==========================================================
"""
from .repro import *  # noqa: F401,F403
from . import validate  # noqa: F401  argument checks shared by every module: utils.validate.positive_int, ...
from .vocab import *  # noqa: F401,F403
from .metrics import *  # noqa: F401,F403
from .plots import *  # noqa: F401,F403
from .training import *  # noqa: F401,F403
from .datasets import *  # noqa: F401,F403
from . import scratch  # noqa: F401  the NumPy family, by its own names: utils.scratch.GRU, utils.scratch.softmax
from .scratch import check_layer, numerical_gradient  # noqa: F401  the gradient check every chapter uses
from . import nn  # noqa: F401  the torch family, by its own names: utils.nn.Encoder, utils.nn.PeepholeLSTM
from .nn import (  # noqa: F401  the torch names the chapters use in prose
    ATTENTION_PRESETS,
    AttentionConfig,
    Batch,
    ModelConfig,
    Seq2Seq,
    TrainConfig,
    causal_mask,
    masked_cross_entropy,
    masked_softmax,
    padding_mask,
    scaled_dot_product_attention,
    train_seq2seq,
)
from .checkers import *  # noqa: F401,F403
from .experiments import *  # noqa: F401,F403
