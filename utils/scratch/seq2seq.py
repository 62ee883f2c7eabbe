"""A small encoder-decoder in NumPy, built from chapter 01's LSTM, with its backward pass.

The pieces (each with ``params``, ``grads``, ``forward``, ``backward``, batch first):

* :class:`TimeEmbedding`: ids (batch, T) -> vectors (batch, T, embed). The row of ``pad_id``
  starts at zero and gets no gradient (as ``torch.nn.Embedding(padding_idx=pad_id)``).
* :class:`TimeLSTM`: chapter 01's :class:`utils.scratch.rnn.LSTM`, whose backward pass also
  takes a gradient for the cell states: the decoder starts from the encoder's (h_T, c_T), so
  the loss reaches the encoder through c_T as well as through h_T.
* :class:`TimeAffine`: (batch, T, in) -> (batch, T, out), ``W`` (out, in) as torch stores it.
* :class:`TimeSoftmaxWithLoss`: the mean cross-entropy over the target tokens that are not
  ``pad_id`` (their sum divided by their number); pads add nothing and are not counted.
* :class:`Encoder`: embedding + LSTM over the source; returns (h_T, c_T) at each row's *own*
  last token (src_lengths), so padding after it changes nothing: the context vector c = h_T.
* :class:`Decoder`: embedding + LSTM started from (h_T, c_T) + affine, teacher-forced on
  ``<s> y_1 .. y_n``. ``peeky=True``: c = h_T is also concatenated to the LSTM's input and to
  the affine layer's input at every step (the textbook's peeky decoder).
* :class:`Seq2Seq`: encoder + decoder + loss; ``forward(src_ids, src_lengths, tgt_in, tgt_out)
  -> loss``, ``backward()`` fills ``grads``; ``params`` / ``grads`` are flat dicts over every
  layer (``"encoder.lstm.W_xf"``, ...) holding the layers' own arrays, so
  :func:`utils.scratch.gradient_check` can perturb them in place. ``generate`` decodes greedily.
* :class:`Adam` and :func:`train` to train it for a few seconds.

The same model in torch is ``utils.Seq2Seq(attention=None, cell="lstm")``, batched:
:func:`to_torch` copies a NumPy model's weights into one (this is the one place that reads the
torch model's modules: ``encoder.embedding``, ``encoder.rnn.layers[0]``, ``decoder.embedding``,
``decoder.rnn.layers[0]``, ``decoder.out``), and :func:`torch_grads` reads its gradients back
under this module's names, so the two can be compared entry by entry (tests/test_scratch_seq2seq.py).
"""
from __future__ import annotations

import time

import numpy as np

from ..validate import boolean, positive_float, positive_int
from .rnn import LSTM, _as_rng

__all__ = [
    "TimeEmbedding",
    "TimeLSTM",
    "TimeAffine",
    "TimeSoftmaxWithLoss",
    "Encoder",
    "Decoder",
    "Seq2Seq",
    "Adam",
    "encode_pairs",
    "train",
    "to_torch",
    "torch_grads",
]


def _as_ids(ids, name: str, vocab_size: int) -> np.ndarray:
    if hasattr(ids, "detach"):
        raise TypeError(f"{name} must be a NumPy array of ids, got a torch tensor; use .numpy()")
    ids = np.asarray(ids)
    if ids.ndim != 2 or not np.issubdtype(ids.dtype, np.integer):
        raise ValueError(f"{name} must be a (batch, T) array of integer ids, got shape {ids.shape} dtype {ids.dtype}")
    if ids.size and (ids.min() < 0 or ids.max() >= vocab_size):
        raise ValueError(f"{name} holds ids outside 0..{vocab_size - 1} (min {ids.min()}, max {ids.max()})")
    return ids


class TimeEmbedding:
    """ids (batch, T) -> W[ids] (batch, T, embed). W ~ N(0, 1) as torch's, the pad row zero."""

    def __init__(self, vocab_size: int, embed_size: int, pad_id: int = 0, rng=None):
        self.vocab_size = positive_int("vocab_size", vocab_size)
        self.embed_size = positive_int("embed_size", embed_size)
        self.pad_id = pad_id
        W = _as_rng(rng).standard_normal((vocab_size, embed_size))
        W[pad_id] = 0.0
        self.params = {"W": W}
        self.grads = {"W": np.zeros_like(W)}
        self.ids = None

    def forward(self, ids) -> np.ndarray:
        self.ids = _as_ids(ids, "ids", self.vocab_size)
        return self.params["W"][self.ids]  # (batch, T, embed)

    def backward(self, dout) -> None:
        dW = self.grads["W"]
        dW[...] = 0.0
        np.add.at(dW, self.ids, dout)  # a row used twice gets both gradients
        dW[self.pad_id] = 0.0  # the pad row is not trained (torch: padding_idx)
        return None


class TimeLSTM(LSTM):
    """Chapter 01's LSTM under the textbook's name; ``backward(dh, dc=None)`` also takes dL/dc_t
    (batch, T, hidden), because a decoder that starts from c_T reads the encoder's last cell
    state (see :meth:`utils.scratch.rnn.LSTM.backward`)."""


class TimeAffine:
    """x (batch, T, in) -> x W^T + b (batch, T, out); W (out, in), b (out,), torch's init."""

    def __init__(self, in_size: int, out_size: int, rng=None):
        rng = _as_rng(rng)
        bound = 1.0 / np.sqrt(positive_int("in_size", in_size))
        self.params = {"W": rng.uniform(-bound, bound, (positive_int("out_size", out_size), in_size)),
                       "b": rng.uniform(-bound, bound, out_size)}
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}
        self.x = None

    def forward(self, x) -> np.ndarray:
        self.x = x
        return x @ self.params["W"].T + self.params["b"]  # (batch, T, out)

    def backward(self, dout) -> np.ndarray:
        x = self.x
        self.grads["W"][...] = dout.reshape(-1, dout.shape[-1]).T @ x.reshape(-1, x.shape[-1])  # (out, in)
        self.grads["b"][...] = dout.sum(axis=(0, 1))
        return dout @ self.params["W"]  # (batch, T, in)


class TimeSoftmaxWithLoss:
    """Mean of -log softmax(logits)[target] over the positions whose target is not ``pad_id``."""

    def __init__(self, pad_id: int = 0):
        self.pad_id = pad_id
        self.cache = None

    def forward(self, logits, targets) -> float:
        if logits.shape[:2] != targets.shape:
            raise ValueError(f"logits (batch, T, vocab) {logits.shape} and targets (batch, T) {targets.shape} "
                             "do not match")
        real = targets != self.pad_id  # (batch, T)
        if not real.any():
            raise ValueError("every target is padding: nothing to learn from")
        z = logits - logits.max(axis=-1, keepdims=True)  # stable: exp of values <= 0
        p = np.exp(z)
        p /= p.sum(axis=-1, keepdims=True)  # (batch, T, vocab)
        p_target = np.take_along_axis(p, targets[..., None], axis=-1)[..., 0]  # (batch, T)
        self.cache = (p, targets, real)
        return float(-np.log(p_target[real]).sum() / real.sum())

    def backward(self) -> np.ndarray:
        p, targets, real = self.cache
        dlogits = p.copy()
        np.put_along_axis(dlogits, targets[..., None], np.take_along_axis(p, targets[..., None], -1) - 1.0, axis=-1)
        return dlogits * (real / real.sum())[..., None]  # pads get 0; each real token 1/N


class Encoder:
    """Embedding + LSTM. forward(src_ids (batch, S), src_lengths (batch,)) -> (h_T, c_T), each
    (batch, hidden), taken at each row's own last token (so what follows it, padding, is never read)."""

    def __init__(self, vocab_size: int, embed_size: int, hidden_size: int, pad_id: int = 0, rng=None):
        rng = _as_rng(rng)
        self.embedding = TimeEmbedding(vocab_size, embed_size, pad_id, rng)
        self.lstm = TimeLSTM(embed_size, hidden_size, rng)
        self.layers = {"embedding": self.embedding, "lstm": self.lstm}
        self.cache = None

    def forward(self, src_ids, src_lengths):
        src_lengths = np.asarray(src_lengths)
        if src_lengths.shape != (len(src_ids),) or src_lengths.min() < 1 or src_lengths.max() > np.shape(src_ids)[1]:
            raise ValueError(f"src_lengths must be (batch,) = ({len(src_ids)},) lengths in 1..{np.shape(src_ids)[1]}, "
                             f"got {src_lengths}")
        hs = self.lstm.forward(self.embedding.forward(src_ids))  # (batch, S, hidden): h_1 .. h_S
        rows, last = np.arange(len(hs)), src_lengths - 1
        self.cache = (hs.shape, rows, last)
        return hs[rows, last], self.lstm.cs[rows, last]  # h_T, c_T: (batch, hidden) each

    def backward(self, dh_T, dc_T) -> None:
        shape, rows, last = self.cache
        dh, dc = np.zeros(shape), np.zeros(shape)  # (batch, S, hidden)
        dh[rows, last], dc[rows, last] = dh_T, dc_T  # the gradient enters at each row's last real step
        self.embedding.backward(self.lstm.backward(dh, dc))


class Decoder:
    """Embedding + LSTM from (h0, c0) = (h_T, c_T) + affine to the vocabulary.

    forward(tgt_in (batch, T), h0, c0) -> logits (batch, T, vocab), teacher-forced.
    peeky: the context vector c = h0 joins the LSTM input [embed; c] and the affine input
    [s_t; c] at every step. backward(dlogits) -> (dh0, dc0).
    """

    def __init__(self, vocab_size: int, embed_size: int, hidden_size: int, pad_id: int = 0, peeky: bool = False,
                 rng=None):
        rng = _as_rng(rng)
        self.peeky = boolean("peeky", peeky)
        extra = hidden_size if self.peeky else 0
        self.embed_size, self.hidden_size = embed_size, hidden_size
        self.embedding = TimeEmbedding(vocab_size, embed_size, pad_id, rng)
        self.lstm = TimeLSTM(embed_size + extra, hidden_size, rng)
        self.affine = TimeAffine(hidden_size + extra, vocab_size, rng)
        self.layers = {"embedding": self.embedding, "lstm": self.lstm, "affine": self.affine}

    def _with_context(self, x, h0):
        peek = np.broadcast_to(h0[:, None, :], x.shape[:2] + h0.shape[1:])  # (batch, T, hidden): c at every step
        return np.concatenate([x, peek], axis=-1)

    def forward(self, tgt_in, h0, c0) -> np.ndarray:
        x = self.embedding.forward(tgt_in)  # (batch, T, embed)
        if self.peeky:
            x = self._with_context(x, h0)  # (batch, T, embed + hidden)
        s = self.lstm.forward(x, h0, c0)  # (batch, T, hidden): s_1 .. s_T
        self.states = s
        return self.affine.forward(self._with_context(s, h0) if self.peeky else s)  # (batch, T, vocab)

    def backward(self, dlogits):
        d_in = self.affine.backward(dlogits)  # (batch, T, hidden [+ hidden])
        ds = d_in[..., :self.hidden_size]
        dx = self.lstm.backward(ds)  # (batch, T, embed [+ hidden])
        dh0 = self.lstm.dh0.copy()
        if self.peeky:  # c = h0 was read at every step, by the LSTM and by the affine layer
            dh0 += d_in[..., self.hidden_size:].sum(axis=1) + dx[..., self.embed_size:].sum(axis=1)
            dx = dx[..., :self.embed_size]
        self.embedding.backward(dx)
        return dh0, self.lstm.dc0


class Seq2Seq:
    """The plain encoder-decoder: c = h_T of the encoder is the decoder's initial state.

    forward(src_ids (batch, S), src_lengths (batch,), tgt_in (batch, T), tgt_out (batch, T)) -> loss
    (mean cross-entropy per real target token); backward() fills ``grads``. Ids are those of a
    ``utils.Vocab`` (pad 0, <s> 1, </s> 2); :func:`encode_pairs` makes the arrays.
    """

    def __init__(self, src_vocab_size: int, tgt_vocab_size: int, embed_size: int = 16, hidden_size: int = 32,
                 pad_id: int = 0, bos_id: int = 1, eos_id: int = 2, peeky: bool = False, seed: int = 0):
        rng = np.random.default_rng(seed)
        self.embed_size, self.hidden_size = positive_int("embed_size", embed_size), positive_int("hidden_size",
                                                                                                   hidden_size)
        self.pad_id, self.bos_id, self.eos_id = pad_id, bos_id, eos_id
        self.encoder = Encoder(src_vocab_size, embed_size, hidden_size, pad_id, rng)
        self.decoder = Decoder(tgt_vocab_size, embed_size, hidden_size, pad_id, peeky, rng)
        self.loss_layer = TimeSoftmaxWithLoss(pad_id)
        self.params, self.grads = {}, {}
        for part, module in (("encoder", self.encoder), ("decoder", self.decoder)):
            for name, layer in module.layers.items():
                for key in layer.params:  # the same arrays: perturbing params[k] perturbs the layer
                    self.params[f"{part}.{name}.{key}"] = layer.params[key]
                    self.grads[f"{part}.{name}.{key}"] = layer.grads[key]

    @property
    def peeky(self) -> bool:
        return self.decoder.peeky

    def num_parameters(self) -> int:
        return sum(p.size for p in self.params.values())

    def logits(self, src_ids, src_lengths, tgt_in) -> np.ndarray:
        """Teacher-forced logits (batch, T, vocab)."""
        h_T, c_T = self.encoder.forward(src_ids, src_lengths)  # the context vector c = h_T: (batch, hidden)
        return self.decoder.forward(tgt_in, h_T, c_T)

    def forward(self, src_ids, src_lengths, tgt_in, tgt_out) -> float:
        return self.loss_layer.forward(self.logits(src_ids, src_lengths, tgt_in), np.asarray(tgt_out))

    def backward(self) -> None:
        dh_T, dc_T = self.decoder.backward(self.loss_layer.backward())
        self.encoder.backward(dh_T, dc_T)

    def generate(self, src_ids, src_lengths, max_len: int) -> np.ndarray:
        """Greedy decoding: (batch, steps) ids, each row ended by </s> then pads (or cut at max_len)."""
        h, c = self.encoder.forward(src_ids, src_lengths)
        context = h
        tokens = np.full(len(h), self.bos_id)
        finished = np.zeros(len(h), dtype=bool)
        out = []
        for _ in range(positive_int("max_len", max_len)):
            x = self.decoder.embedding.params["W"][tokens][:, None]  # (batch, 1, embed)
            if self.peeky:
                x = self.decoder._with_context(x, context)
            s = self.decoder.lstm.forward(x, h, c)  # (batch, 1, hidden)
            h, c = s[:, 0], self.decoder.lstm.cs[:, 0]
            logits = self.decoder.affine.forward(self.decoder._with_context(s, context) if self.peeky else s)
            tokens = np.where(finished, self.pad_id, logits[:, 0].argmax(-1))  # (batch,)
            out.append(tokens)
            finished |= tokens == self.eos_id
            if finished.all():
                break
        return np.stack(out, axis=1)


class Adam:
    """Adam (Kingma & Ba 2015) on a dict of arrays, in place, with global-norm clipping as torch's."""

    def __init__(self, params: dict, lr: float = 0.01, betas=(0.9, 0.999), eps: float = 1e-8, clip: float | None = 1.0):
        self.params, self.lr, self.betas, self.eps, self.clip = params, positive_float("lr", lr), betas, eps, clip
        self.m = {k: np.zeros_like(v) for k, v in params.items()}
        self.v = {k: np.zeros_like(v) for k, v in params.items()}
        self.t = 0

    def step(self, grads: dict) -> None:
        scale = 1.0
        if self.clip is not None:
            norm = np.sqrt(sum(float((g ** 2).sum()) for g in grads.values()))
            scale = min(1.0, self.clip / (norm + 1e-6))
        self.t += 1
        b1, b2 = self.betas
        for k, p in self.params.items():
            g = grads[k] * scale
            self.m[k] = b1 * self.m[k] + (1 - b1) * g
            self.v[k] = b2 * self.v[k] + (1 - b2) * g * g
            m_hat, v_hat = self.m[k] / (1 - b1 ** self.t), self.v[k] / (1 - b2 ** self.t)
            p -= self.lr * m_hat / (np.sqrt(v_hat) + self.eps)


def encode_pairs(pairs, src_vocab, tgt_vocab):
    """(source, target) strings -> NumPy (src_ids (batch, S), src_lengths (batch,), tgt_in (batch, T),
    tgt_out (batch, T)) with a ``utils.Vocab`` each: tgt_in = <s> y_1..y_n, tgt_out = y_1..y_n </s>, pads 0."""
    src = [src_vocab.encode(s) for s, _ in pairs]
    tgt = [tgt_vocab.encode(t, bos=True, eos=True) for _, t in pairs]
    S, T = max(map(len, src)), max(map(len, tgt))
    src_ids = np.full((len(pairs), S), src_vocab.pad_id, dtype=np.int64)
    full = np.full((len(pairs), T), tgt_vocab.pad_id, dtype=np.int64)
    for row, (s, t) in enumerate(zip(src, tgt)):
        src_ids[row, :len(s)], full[row, :len(t)] = s, t
    return src_ids, np.array([len(s) for s in src]), full[:, :-1], full[:, 1:]


def train(model: Seq2Seq, pairs, src_vocab, tgt_vocab, *, seconds: float = 5.0, max_steps: int = 100_000,
          batch_size: int = 32, lr: float = 0.01, seed: int = 0) -> list[float]:
    """Adam on random batches of ``pairs`` until ``seconds`` of CPU time or ``max_steps``; the loss per step.

    (CPU time, not wall time, so another program on the machine does not shorten the run.)
    """
    rng = np.random.default_rng(seed)
    optimizer = Adam(model.params, lr=lr)
    losses = []
    start = time.process_time()
    while len(losses) < max_steps and time.process_time() - start < seconds:
        batch = [pairs[i] for i in rng.choice(len(pairs), size=min(batch_size, len(pairs)), replace=False)]
        losses.append(model.forward(*encode_pairs(batch, src_vocab, tgt_vocab)))
        model.backward()
        optimizer.step(model.grads)
    return losses


# ----------------------------------------------------------------------------- the torch twin
_TORCH_PARTS = (("encoder.embedding", ("encoder", "embedding")), ("decoder.embedding", ("decoder", "embedding")),
                ("decoder.affine", ("decoder", "affine")))


def _torch_parts(torch_model):
    """The torch model's modules, by this module's layer names (the only place they are read)."""
    enc, dec = torch_model.encoder, torch_model.decoder
    return {"encoder.embedding": enc.embedding, "encoder.lstm": enc.rnn.layers[0],
            "decoder.embedding": dec.embedding, "decoder.lstm": dec.rnn.layers[0], "decoder.affine": dec.out}


def _check_twin(model: Seq2Seq, torch_model) -> None:
    c = torch_model.config
    problems = [name for name, ok in (
        ("attention=None", c.attention is None), ("cell='lstm'", c.cell == "lstm"), ("layers=1", c.layers == 1),
        ("bidirectional=False", not c.bidirectional), ("reverse_source=False", not c.reverse_source),
        (f"hidden_size={model.hidden_size}", c.hidden_size == model.hidden_size and c.enc_size == model.hidden_size),
        (f"embed_size={model.embed_size}", c.embed_size == model.embed_size), (f"peeky={model.peeky}",
                                                                                 c.peeky == model.peeky),
    ) if not ok]
    if problems:
        raise ValueError(f"the torch model is not this NumPy model's twin: it needs {', '.join(problems)} "
                         f"(its config: {c})")
    for part, (side, name) in _TORCH_PARTS:
        ours = getattr(getattr(model, side), name).params["W"].shape
        theirs = tuple(_torch_parts(torch_model)[part].weight.shape)
        if ours != theirs:
            raise ValueError(f"{part}: NumPy weight {ours} vs torch {theirs}: the vocabularies differ")


def to_torch(model: Seq2Seq, src_vocab, tgt_vocab, dtype=None):
    """A ``utils.Seq2Seq(attention=None)`` with this NumPy model's weights (float64 by default).

    Embeddings and the affine layer are copied as they are; each LSTM goes through chapter 01's
    ``utils.nn.rnn.to_torch`` (the bias in ``bias_ih``, ``bias_hh`` zero: torch adds the two).
    """
    import torch

    from ..nn.model import Seq2Seq as TorchSeq2Seq
    from ..nn.rnn import to_torch as lstm_to_torch

    net = TorchSeq2Seq(src_vocab, tgt_vocab, attention=None, cell="lstm", hidden_size=model.hidden_size,
                       embed_size=model.embed_size, peeky=model.peeky)
    net = net.to(torch.float64 if dtype is None else dtype)
    _check_twin(model, net)
    parts = _torch_parts(net)
    with torch.no_grad():
        parts["encoder.embedding"].weight.copy_(torch.from_numpy(model.encoder.embedding.params["W"]))
        parts["decoder.embedding"].weight.copy_(torch.from_numpy(model.decoder.embedding.params["W"]))
        parts["decoder.affine"].weight.copy_(torch.from_numpy(model.decoder.affine.params["W"]))
        parts["decoder.affine"].bias.copy_(torch.from_numpy(model.decoder.affine.params["b"]))
        for side in ("encoder", "decoder"):
            parts[f"{side}.lstm"].load_state_dict(lstm_to_torch(getattr(model, side).lstm).state_dict())
    net.eval()
    return net


def torch_grads(torch_model) -> dict[str, np.ndarray]:
    """The torch twin's gradients after ``loss.backward()``, under the NumPy model's ``grads`` names."""
    from ..nn.rnn import torch_grads as lstm_grads

    parts = _torch_parts(torch_model)
    for name, module in parts.items():
        if any(p.grad is None for p in module.parameters()):
            raise ValueError(f"the torch model has no gradient for {name} yet: call loss.backward() first")
    out = {}
    for part in ("encoder.embedding", "decoder.embedding"):
        out[f"{part}.W"] = parts[part].weight.grad.double().numpy().copy()
    for side in ("encoder", "decoder"):
        for key, value in lstm_grads(parts[f"{side}.lstm"]).items():
            out[f"{side}.lstm.{key}"] = value
    out["decoder.affine.W"] = parts["decoder.affine"].weight.grad.double().numpy().copy()
    out["decoder.affine.b"] = parts["decoder.affine"].bias.grad.double().numpy().copy()
    return out
