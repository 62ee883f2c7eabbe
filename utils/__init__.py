"""Shared code of the seq2seq-and-attention course.

Every chapter imports from here (``import utils`` / ``from utils import ...``). Code a chapter
*explains* may be written out in the notebook; code it *reuses* lives here, once.

Modules (one concept each):

=================  ==========================================================
``repro``          ``setup(seed)``: seeding, one torch thread, device choice
``vocab``          ``Vocab``: tokens <-> ids, special tokens, padding a batch
``pairs``          ``load_pairs``/``save_pairs``: (source, target) TSV files
``metrics``        ``exact_match``, ``token_accuracy``, ``edit_distance``
``plots``          ``plot_attention`` heatmaps, ``plot_history`` training curves
``training``       ``fit``: the training loop (progress bar, clipping, early stop)
``checkers*``      exercise checkers that say *what* is wrong (one module a chapter)
``datasets``       synthetic tasks, multi-locale dates, CMUdict pronunciations
``gradcheck``      numerical gradient check for the from-scratch layers
``numpy_rnn``      RNN, LSTM, peephole LSTM and GRU in NumPy, with BPTT
``torch_rnn``      the peephole LSTM in torch (torch.nn has none)
``numpy_layers``   textbook attention layers in NumPy (AttentionWeight, WeightedSum)
``attention``      masked softmax and attention score functions (torch)
``seq2seq``        encoder, decoders, ``train_seq2seq`` and the model API
=================  ==========================================================
"""
from .repro import *  # noqa: F401,F403
from .validate import *  # noqa: F401,F403
from .vocab import *  # noqa: F401,F403
from .pairs import *  # noqa: F401,F403
from .metrics import *  # noqa: F401,F403
from .plots import *  # noqa: F401,F403
from .training import *  # noqa: F401,F403
from .datasets import *  # noqa: F401,F403
from .scratch import *  # noqa: F401,F403
from .nn import *  # noqa: F401,F403
from .checkers import *  # noqa: F401,F403
