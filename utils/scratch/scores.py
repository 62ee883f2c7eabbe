"""Attention score layers and Luong's local window, from scratch in NumPy (chapter 04).

Chapter 03 scored with a plain dot product. Chapter 04 compares the score functions of
Bahdanau et al. (2015) and Luong et al. (2015), each a small layer in the textbook style
(``params``, ``grads``, ``forward``, ``backward``) that ``utils.scratch.check_layer`` verifies:

================  ======================================  ================================
layer             score ``e_tj = score(q_t, k_j)``        parameters (stored as the math)
================  ======================================  ================================
DotScore          ``q_t . k_j``                           none (needs Dq == Dk)
ScaledDotScore    ``q_t . k_j / sqrt(Dk)``                none (needs Dq == Dk)
GeneralScore      ``q_t W k_j^T``                         ``W`` (Dq, Dk)
AdditiveScore     ``v^T tanh(W_q q_t + W_k k_j + b)``     ``W_q`` (A, Dq), ``W_k`` (A, Dk), ``b`` (A,), ``v`` (A,)
ConcatScore       ``v^T tanh(W [q_t; k_j] + b)``          ``W`` (A, Dq + Dk), ``b`` (A,), ``v`` (A,)
================  ======================================  ================================

Every score layer maps ``query (batch, tgt_len, Dq)`` and ``keys (batch, src_len, Dk)`` to
``scores (batch, tgt_len, src_len)``; ``backward(dscores)`` fills ``grads`` and returns
``(dquery, dkeys)``. Weights are stored the way the math writes them (``W_q q`` with column
vectors, so ``W_q`` is ``(A, Dq)`` and the code computes ``query @ W_q.T``), which is also the
layout of ``torch.nn.Linear.weight``; the parity tests copy them one to one. Luong's *concat*
score is the additive score written with one matrix, ``W = [W_q  W_k]``: ``ConcatScore``
builds the concatenation literally, so that the chapter can show the two are one function.

Luong's **local attention** looks only at a window of source positions around an aligned
position ``p_t`` (0-based, as in ``utils.nn.LocalWindow``):

* local-m: ``p_t = min(t, S_b - 1)`` (:func:`monotonic_centres`);
* local-p: ``p_t = (S_b - 1) * sigmoid(v_p^T tanh(W_p q_t))`` (:class:`PredictedPosition`),
  and inside the window the softmax weights are multiplied by a Gaussian
  ``exp(-(j - p_t)^2 / (2 sigma^2))`` with ``sigma = D / 2`` (:class:`LocalPWindow`).

The window is ``{j : |j - p_t| <= D}`` (Luong's ``[p_t - D, p_t + D]``): ``2D + 1`` positions
when ``p_t`` is a whole number (always for local-m), ``2D`` or ``2D + 1`` for a real-valued
``p_t``, fewer at the edges of the source. Outside it the weight is exactly 0. *Global*
attention, with any score, looks at every source position.

:class:`ScoreAttention` chains a score, the softmax (global or local) and the weighted sum
into one layer ``forward(query, keys, src_lengths=None) -> context (batch, tgt_len, Dk)``.
"""
from __future__ import annotations

import numpy as np

from ..validate import one_of, positive_int
from .attention import _as_float_array, softmax

__all__ = [
    "SCORES",
    "AdditiveScore",
    "ConcatScore",
    "DotScore",
    "GeneralScore",
    "LocalPWindow",
    "PredictedPosition",
    "ScaledDotScore",
    "ScoreAttention",
    "gaussian_window",
    "local_p_weights",
    "local_window_mask",
    "monotonic_centres",
]


# --------------------------------------------------------------------------- helpers
def _as_rng(rng) -> np.random.Generator:
    if rng is None or isinstance(rng, (int, np.integer)):
        return np.random.default_rng(rng)
    if isinstance(rng, np.random.Generator):
        return rng
    raise TypeError(f"rng must be None, an int seed or a numpy Generator, got {type(rng).__name__}")


def _uniform(rng: np.random.Generator, shape: tuple[int, ...], fan_in: int) -> np.ndarray:
    """torch.nn.Linear's initialisation: U(-1/sqrt(fan_in), 1/sqrt(fan_in))."""
    bound = 1.0 / np.sqrt(fan_in)
    return rng.uniform(-bound, bound, size=shape)


def _check_query_keys(query, keys, query_size: int, key_size: int, layer: str):
    query = _as_float_array(query, "query", 3, f"(batch, tgt_len, {query_size})")
    keys = _as_float_array(keys, "keys", 3, f"(batch, src_len, {key_size})")
    if query.shape[0] != keys.shape[0]:
        raise ValueError(f"{layer}: query {query.shape} and keys {keys.shape} differ in batch size")
    if query.shape[2] != query_size or keys.shape[2] != key_size:
        raise ValueError(
            f"{layer} was built for query size {query_size} and key size {key_size}, got query {query.shape} "
            f"(batch, tgt_len, Dq) and keys {keys.shape} (batch, src_len, Dk)"
        )
    return query, keys


class _Score:
    """What the score layers share: params/grads dicts, the cache, the dscores check."""

    def __init__(self, query_size: int, key_size: int):
        self.query_size = positive_int("query_size", query_size)
        self.key_size = positive_int("key_size", key_size)
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}
        self.cache = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(query_size={self.query_size}, key_size={self.key_size})"

    def _init_params(self, shapes: dict[str, tuple[tuple[int, ...], int]], rng) -> None:
        rng = _as_rng(rng)
        self.params = {name: _uniform(rng, shape, fan_in) for name, (shape, fan_in) in shapes.items()}
        self.grads = {name: np.zeros_like(p) for name, p in self.params.items()}
        self._shapes = {name: shape for name, (shape, _) in shapes.items()}

    def _check_params(self) -> None:
        for name, shape in getattr(self, "_shapes", {}).items():
            p = self.params.get(name)
            if not isinstance(p, np.ndarray) or p.shape != shape:
                raise ValueError(f"{type(self).__name__}: params[{name!r}] must be an array of shape {shape}, "
                                 f"got {None if p is None else np.shape(p)}")

    def _inputs(self, query, keys):
        self._check_params()
        return _check_query_keys(query, keys, self.query_size, self.key_size, type(self).__name__)

    def _dscores(self, dscores) -> np.ndarray:
        if self.cache is None:
            raise RuntimeError(f"{type(self).__name__}.backward called before forward")
        expected = self.cache["shape"]
        dscores = _as_float_array(dscores, "dscores", 3, "(batch, tgt_len, src_len)")
        if dscores.shape != expected:
            raise ValueError(f"{type(self).__name__}.backward: dscores must have the scores' shape {expected} "
                             f"(batch, tgt_len, src_len), got {dscores.shape}")
        return dscores


# --------------------------------------------------------------------------- the scores
class DotScore(_Score):
    """``e_tj = q_t . k_j`` (Luong's *dot*); no parameters, so Dq must equal Dk.

    forward(query (B, T, D), keys (B, S, D)) -> scores (B, T, S).
    backward(dscores (B, T, S)) -> (dquery (B, T, D), dkeys (B, S, D)).
    """

    def __init__(self, query_size: int, key_size: int | None = None):
        super().__init__(query_size, query_size if key_size is None else key_size)
        if self.query_size != self.key_size:
            raise ValueError(f"{type(self).__name__} needs queries and keys of one size, got query size "
                             f"{self.query_size} and key size {self.key_size}: use the general or additive score")

    scale = 1.0

    def forward(self, query, keys) -> np.ndarray:
        query, keys = self._inputs(query, keys)
        scores = query @ keys.transpose(0, 2, 1) * self.scale  # (B, T, S)
        self.cache = {"query": query, "keys": keys, "shape": scores.shape}
        return scores

    def backward(self, dscores):
        dscores = self._dscores(dscores) * self.scale  # (B, T, S)
        query, keys = self.cache["query"], self.cache["keys"]
        dquery = dscores @ keys  # (B, T, D): sum_j de_tj k_j
        dkeys = dscores.transpose(0, 2, 1) @ query  # (B, S, D): sum_t de_tj q_t
        return dquery, dkeys


class ScaledDotScore(DotScore):
    """``e_tj = q_t . k_j / sqrt(D)``: the dot score with its variance kept near 1 for any D."""

    def __init__(self, query_size: int, key_size: int | None = None):
        super().__init__(query_size, key_size)
        self.scale = 1.0 / np.sqrt(self.key_size)


class GeneralScore(_Score):
    """Luong's *general* score ``e_tj = q_t W k_j^T`` with a learned ``W`` (Dq, Dk).

    forward(query (B, T, Dq), keys (B, S, Dk)) -> scores (B, T, S).
    backward(dscores) -> (dquery, dkeys); fills grads["W"] (Dq, Dk).
    The keys are mapped once, ``K W^T`` (B, S, Dq), then dotted with every query (torch's
    ``GeneralScore`` does the same with ``nn.Linear(Dk, Dq, bias=False)``, whose weight is ``W``).
    """

    def __init__(self, query_size: int, key_size: int, rng=None):
        super().__init__(query_size, key_size)
        self._init_params({"W": ((self.query_size, self.key_size), self.key_size)}, rng)

    def forward(self, query, keys) -> np.ndarray:
        query, keys = self._inputs(query, keys)
        mapped = keys @ self.params["W"].T  # (B, S, Dq): W k_j for every key
        scores = query @ mapped.transpose(0, 2, 1)  # (B, T, S)
        self.cache = {"query": query, "keys": keys, "mapped": mapped, "shape": scores.shape}
        return scores

    def backward(self, dscores):
        dscores = self._dscores(dscores)  # (B, T, S)
        query, keys, mapped = self.cache["query"], self.cache["keys"], self.cache["mapped"]
        dquery = dscores @ mapped  # (B, T, Dq): sum_j de_tj W k_j
        dmapped = dscores.transpose(0, 2, 1) @ query  # (B, S, Dq): sum_t de_tj q_t
        self.grads["W"][...] = np.einsum("bsq,bsk->qk", dmapped, keys)  # (Dq, Dk)
        dkeys = dmapped @ self.params["W"]  # (B, S, Dk)
        return dquery, dkeys


class AdditiveScore(_Score):
    """Bahdanau's *additive* score ``e_tj = v^T tanh(W_q q_t + W_k k_j + b)``.

    Parameters (A = attn_size, default the query size): ``W_q`` (A, Dq), ``W_k`` (A, Dk),
    ``b`` (A,), ``v`` (A,). With ``bias=False`` there is no ``b`` (Bahdanau's paper writes none;
    ``utils.nn.AdditiveScore`` keeps one, in its ``W_k`` Linear).
    forward(query (B, T, Dq), keys (B, S, Dk)) -> scores (B, T, S).
    backward(dscores) -> (dquery, dkeys). The keys are projected once per source and broadcast
    against every query: the tanh runs on a (B, T, S, A) array, which is what makes additive
    attention slower than the multiplicative scores at the same sizes.
    """

    def __init__(self, query_size: int, key_size: int, attn_size: int | None = None, bias: bool = True, rng=None):
        super().__init__(query_size, key_size)
        self.attn_size = positive_int("attn_size", self.query_size if attn_size is None else attn_size)
        A = self.attn_size
        shapes = {"W_q": ((A, self.query_size), self.query_size), "W_k": ((A, self.key_size), self.key_size)}
        if bias:
            shapes["b"] = ((A,), self.key_size)
        shapes["v"] = ((A,), A)
        self._init_params(shapes, rng)

    def _pre_activation(self, query, keys):
        """W_q q_t + W_k k_j + b for every (t, j): (B, T, S, A)."""
        projected_query = query @ self.params["W_q"].T  # (B, T, A)
        projected_keys = keys @ self.params["W_k"].T  # (B, S, A)
        if "b" in self.params:
            projected_keys = projected_keys + self.params["b"]
        return projected_query[:, :, None, :] + projected_keys[:, None, :, :]  # (B, T, S, A)

    def forward(self, query, keys) -> np.ndarray:
        query, keys = self._inputs(query, keys)
        hidden = np.tanh(self._pre_activation(query, keys))  # (B, T, S, A)
        scores = hidden @ self.params["v"]  # (B, T, S)
        self.cache = {"query": query, "keys": keys, "hidden": hidden, "shape": scores.shape}
        return scores

    def _backward_hidden(self, dscores):
        """Gradient at the tanh's input (B, T, S, A); fills grads["v"]."""
        hidden = self.cache["hidden"]
        self.grads["v"][...] = np.einsum("bts,btsa->a", dscores, hidden)
        dhidden = dscores[..., None] * self.params["v"]  # (B, T, S, A)
        return dhidden * (1.0 - hidden**2)  # through tanh

    def backward(self, dscores):
        dscores = self._dscores(dscores)
        query, keys = self.cache["query"], self.cache["keys"]
        dpre = self._backward_hidden(dscores)  # (B, T, S, A)
        dprojected_query = dpre.sum(axis=2)  # (B, T, A): every key's term adds up
        dprojected_keys = dpre.sum(axis=1)  # (B, S, A): every query's term adds up
        self.grads["W_q"][...] = np.einsum("bta,btq->aq", dprojected_query, query)
        self.grads["W_k"][...] = np.einsum("bsa,bsk->ak", dprojected_keys, keys)
        if "b" in self.params:
            self.grads["b"][...] = dprojected_keys.sum(axis=(0, 1))
        return dprojected_query @ self.params["W_q"], dprojected_keys @ self.params["W_k"]


class ConcatScore(AdditiveScore):
    """Luong's *concat* score ``e_tj = v^T tanh(W [q_t; k_j] + b)``, built literally.

    ``W`` (A, Dq + Dk), ``b`` (A,) (or none with ``bias=False``), ``v`` (A,). The concatenation
    ``[q_t; k_j]`` is formed for every pair (t, j): (B, T, S, Dq + Dk). Since
    ``W [q; k] = W[:, :Dq] q + W[:, Dq:] k``, this is :class:`AdditiveScore` with
    ``W_q = W[:, :Dq]`` and ``W_k = W[:, Dq:]``, the same function (the chapter checks it).
    """

    def __init__(self, query_size: int, key_size: int, attn_size: int | None = None, bias: bool = True, rng=None):
        _Score.__init__(self, query_size, key_size)
        self.attn_size = positive_int("attn_size", self.query_size if attn_size is None else attn_size)
        A, width = self.attn_size, self.query_size + self.key_size
        shapes = {"W": ((A, width), width)}
        if bias:
            shapes["b"] = ((A,), width)
        shapes["v"] = ((A,), A)
        self._init_params(shapes, rng)

    def _pre_activation(self, query, keys):
        B, T, S = query.shape[0], query.shape[1], keys.shape[1]
        pairs = np.concatenate(  # (B, T, S, Dq + Dk): [q_t; k_j] for every (t, j)
            [np.broadcast_to(query[:, :, None, :], (B, T, S, self.query_size)),
             np.broadcast_to(keys[:, None, :, :], (B, T, S, self.key_size))], axis=-1)
        self.cache_pairs = pairs
        pre = pairs @ self.params["W"].T  # (B, T, S, A)
        return pre + self.params["b"] if "b" in self.params else pre

    def backward(self, dscores):
        dscores = self._dscores(dscores)
        dpre = self._backward_hidden(dscores)  # (B, T, S, A)
        self.grads["W"][...] = np.einsum("btsa,btsd->ad", dpre, self.cache_pairs)
        if "b" in self.params:
            self.grads["b"][...] = dpre.sum(axis=(0, 1, 2))
        dpairs = dpre @ self.params["W"]  # (B, T, S, Dq + Dk)
        dquery = dpairs[..., :self.query_size].sum(axis=2)  # (B, T, Dq)
        dkeys = dpairs[..., self.query_size:].sum(axis=1)  # (B, S, Dk)
        return dquery, dkeys


#: The NumPy score layers by the names ``utils.nn.make_score`` uses.
SCORES = {"dot": DotScore, "scaled-dot": ScaledDotScore, "general": GeneralScore,
             "additive": AdditiveScore, "concat": ConcatScore}


# --------------------------------------------------------------------------- local attention
def _lengths(src_lengths, batch: int, src_len: int) -> np.ndarray:
    lengths = np.asarray(src_lengths)
    if lengths.shape != (batch,) or not np.issubdtype(lengths.dtype, np.integer):
        raise ValueError(f"src_lengths must be {batch} integers (batch,), got {lengths!r}")
    if lengths.min() < 1 or lengths.max() > src_len:
        raise ValueError(f"src_lengths must lie in 1..{src_len} (the keys' src_len), got {lengths.tolist()}")
    return lengths


def monotonic_centres(src_lengths, tgt_len: int) -> np.ndarray:
    """local-m's aligned positions ``p_t = min(t, S_b - 1)``: (batch, tgt_len) float.

    src_lengths: (batch,) ints, the real length S_b of each source. Output step t (0-based)
    looks at source position t, or at the last real one once t runs past the source.
    """
    lengths = np.asarray(src_lengths)
    if lengths.ndim != 1 or not np.issubdtype(lengths.dtype, np.integer) or lengths.min() < 1:
        raise ValueError(f"src_lengths must be (batch,) positive integers, got {lengths!r}")
    steps = np.arange(positive_int("tgt_len", tgt_len), dtype=np.float64)  # (tgt_len,)
    return np.minimum(steps[None, :], (lengths - 1.0)[:, None])  # (batch, tgt_len)


def _check_centres(centres, src_len: int) -> np.ndarray:
    centres = _as_float_array(centres, "centres", 2, "(batch, tgt_len)")
    return centres


def local_window_mask(centres, src_len: int, D: int) -> np.ndarray:
    """True where source position j is inside the window ``|j - p_t| <= D``: (batch, tgt_len, src_len).

    centres: (batch, tgt_len) aligned positions p_t (0-based, any real number).
    Luong's window ``[p_t - D, p_t + D]``: 2D + 1 positions for a whole-number p_t.
    """
    centres = _check_centres(centres, src_len)
    D = positive_int("D", D)
    j = np.arange(positive_int("src_len", src_len))  # (src_len,)
    return np.abs(j[None, None, :] - centres[:, :, None]) <= D


def gaussian_window(centres, src_len: int, D: int) -> np.ndarray:
    """local-p's factor ``exp(-(j - p_t)^2 / (2 sigma^2))``, ``sigma = D / 2``: (batch, tgt_len, src_len)."""
    centres = _check_centres(centres, src_len)
    sigma = positive_int("D", D) / 2
    j = np.arange(positive_int("src_len", src_len))  # (src_len,)
    return np.exp(-((j[None, None, :] - centres[:, :, None]) ** 2) / (2 * sigma**2))


def local_p_weights(scores, centres, D: int, mask=None) -> np.ndarray:
    """Luong's local-p weights: a softmax over the window, multiplied by a Gaussian.

    scores: (batch, tgt_len, src_len); centres: (batch, tgt_len) the p_t; D: the half-width;
    mask: None, a (batch, src_len) padding mask or a (batch, tgt_len, src_len) bool mask
    (True = may attend). Returns (batch, tgt_len, src_len): exactly 0 outside
    ``|j - p_t| <= D`` (and at masked positions), ``softmax_window(e)_j * exp(-(j - p_t)^2 /
    (2 (D/2)^2))`` inside. The Gaussian is *not* renormalised (Luong et al.), so a row sums to
    less than 1.
    """
    scores = _as_float_array(scores, "scores", 3, "(batch, tgt_len, src_len)")
    centres = _check_centres(centres, scores.shape[2])
    if centres.shape != scores.shape[:2]:
        raise ValueError(f"centres must be (batch, tgt_len) = {scores.shape[:2]}, got {centres.shape}")
    allowed = local_window_mask(centres, scores.shape[2], D)  # (B, T, S)
    if mask is not None:
        allowed = allowed & _broadcast_mask(mask, scores.shape)
    return softmax(scores, allowed) * gaussian_window(centres, scores.shape[2], D)


def _broadcast_mask(mask, shape: tuple[int, int, int]) -> np.ndarray:
    mask = np.asarray(mask)
    if mask.dtype != bool:
        raise TypeError(f"mask must be a boolean array (True = may attend), got dtype {mask.dtype}")
    if mask.shape == (shape[0], shape[2]):
        mask = mask[:, None, :]  # (batch, 1, src_len): the same padding at every step
    elif mask.shape != shape:
        raise ValueError(f"mask must be (batch, src_len) = {(shape[0], shape[2])} or {shape}, got {mask.shape}")
    return np.broadcast_to(mask, shape)


class LocalPWindow:
    """The local-p softmax as a layer: window, softmax inside it, Gaussian factor.

    forward(scores (B, T, S), centres (B, T), mask=None) -> weights (B, T, S) as
    :func:`local_p_weights`. backward(dweights) -> (dscores (B, T, S), dcentres (B, T)).
    The window's edges move in jumps (no gradient); the Gaussian is what carries the gradient
    to p_t, and through it to local-p's ``W_p`` and ``v_p``. ``gaussian=False`` gives local-m's
    window (a plain softmax inside the window, no gradient to the centres).
    """

    def __init__(self, D: int, gaussian: bool = True):
        self.D = positive_int("D", D)
        self.sigma = self.D / 2
        self.gaussian = bool(gaussian)
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}
        self.cache = None

    def forward(self, scores, centres, mask=None) -> np.ndarray:
        scores = _as_float_array(scores, "scores", 3, "(batch, tgt_len, src_len)")
        centres = _check_centres(centres, scores.shape[2])
        if centres.shape != scores.shape[:2]:
            raise ValueError(f"centres must be (batch, tgt_len) = {scores.shape[:2]}, got {centres.shape}")
        allowed = local_window_mask(centres, scores.shape[2], self.D)  # (B, T, S)
        if mask is not None:
            allowed = allowed & _broadcast_mask(mask, scores.shape)
        a = softmax(scores, allowed)  # (B, T, S): 0 outside the window
        if self.gaussian:
            factor = gaussian_window(centres, scores.shape[2], self.D)  # (B, T, S)
        else:
            factor = np.ones_like(a)
        self.cache = (a, factor, centres)
        return a * factor

    def backward(self, dweights):
        if self.cache is None:
            raise RuntimeError("LocalPWindow.backward called before forward")
        a, factor, centres = self.cache
        dweights = _as_float_array(dweights, "dweights", 3, "(batch, tgt_len, src_len)")
        if dweights.shape != a.shape:
            raise ValueError(f"dweights must have the weights' shape {a.shape}, got {dweights.shape}")
        da = dweights * factor  # (B, T, S)
        dscores = a * (da - (a * da).sum(axis=-1, keepdims=True))  # softmax backward, window only
        if not self.gaussian:
            return dscores, np.zeros_like(centres)
        j = np.arange(a.shape[2])  # (S,)
        # d/dp exp(-(j - p)^2 / (2 sigma^2)) = exp(...) * (j - p) / sigma^2
        dfactor_dp = factor * (j[None, None, :] - centres[:, :, None]) / self.sigma**2  # (B, T, S)
        dcentres = (dweights * a * dfactor_dp).sum(axis=-1)  # (B, T)
        return dscores, dcentres


class PredictedPosition:
    """local-p's aligned position ``p_t = (S_b - 1) * sigmoid(v_p^T tanh(W_p q_t))``.

    Parameters: ``W_p`` (Dq, Dq) and ``v_p`` (Dq,) (as ``utils.nn.LocalWindow``: both without bias).
    forward(query (B, T, Dq), src_lengths (B,) ints) -> centres (B, T), each in [0, S_b - 1].
    backward(dcentres (B, T)) -> dquery (B, T, Dq); fills grads["W_p"], grads["v_p"].
    """

    def __init__(self, query_size: int, rng=None):
        self.query_size = positive_int("query_size", query_size)
        rng = _as_rng(rng)
        Q = self.query_size
        self.params = {"W_p": _uniform(rng, (Q, Q), Q), "v_p": _uniform(rng, (Q,), Q)}
        self.grads = {name: np.zeros_like(p) for name, p in self.params.items()}
        self.cache = None

    def forward(self, query, src_lengths) -> np.ndarray:
        query = _as_float_array(query, "query", 3, f"(batch, tgt_len, {self.query_size})")
        if query.shape[2] != self.query_size:
            raise ValueError(f"PredictedPosition was built for query size {self.query_size}, got {query.shape}")
        lengths = np.asarray(src_lengths)
        if lengths.shape != (query.shape[0],) or not np.issubdtype(lengths.dtype, np.integer) or lengths.min() < 1:
            raise ValueError(f"src_lengths must be (batch,) = ({query.shape[0]},) positive integers, got {lengths!r}")
        hidden = np.tanh(query @ self.params["W_p"].T)  # (B, T, Dq)
        gate = 1.0 / (1.0 + np.exp(-(hidden @ self.params["v_p"])))  # (B, T) in (0, 1)
        last = (lengths - 1.0)[:, None]  # (B, 1): the last real position
        self.cache = (query, hidden, gate, last)
        return last * gate

    def backward(self, dcentres) -> np.ndarray:
        if self.cache is None:
            raise RuntimeError("PredictedPosition.backward called before forward")
        query, hidden, gate, last = self.cache
        dcentres = _as_float_array(dcentres, "dcentres", 2, "(batch, tgt_len)")
        if dcentres.shape != gate.shape:
            raise ValueError(f"dcentres must be (batch, tgt_len) = {gate.shape}, got {dcentres.shape}")
        dlogit = dcentres * last * gate * (1.0 - gate)  # (B, T): through the sigmoid
        self.grads["v_p"][...] = np.einsum("bt,btq->q", dlogit, hidden)
        dpre = dlogit[..., None] * self.params["v_p"] * (1.0 - hidden**2)  # (B, T, Dq): through tanh
        self.grads["W_p"][...] = np.einsum("btp,btq->pq", dpre, query)
        return dpre @ self.params["W_p"]  # (B, T, Dq)


class ScoreAttention:
    """Attention with any score, global or local: score, softmax, weighted sum, in one layer.

    ScoreAttention(score, window=None | "local-m" | "local-p", D=2, rng=None):
    forward(query (B, T, Dq), keys (B, S, Dk), src_lengths=None (B,)) -> context (B, T, Dk);
    the values are the keys (classic seq2seq); the weights of the call are kept in
    ``attention_weights`` (B, T, S) and the centres p_t in ``centres`` (local only).
    backward(dcontext) -> (dquery, dkeys). ``params``/``grads`` hold the score's parameters
    and, for local-p, ``W_p`` and ``v_p``.
    """

    def __init__(self, score, window: str | None = None, D: int = 2, rng=None):
        if not hasattr(score, "forward") or not hasattr(score, "params"):
            raise TypeError(f"score must be a score layer such as GeneralScore, got {type(score).__name__}")
        self.score = score
        self.window = None if window is None else one_of("window", window, ("local-m", "local-p"))
        self.D = positive_int("D", D)
        self.predictor = PredictedPosition(score.query_size, rng) if window == "local-p" else None
        self.softmax_window = None if window is None else LocalPWindow(D, gaussian=window == "local-p")
        self.attention_weights = None
        self.centres = None
        self.cache = None

    @property
    def params(self) -> dict[str, np.ndarray]:
        extra = self.predictor.params if self.predictor is not None else {}
        return {**self.score.params, **extra}

    @property
    def grads(self) -> dict[str, np.ndarray]:
        extra = self.predictor.grads if self.predictor is not None else {}
        return {**self.score.grads, **extra}

    def forward(self, query, keys, src_lengths=None) -> np.ndarray:
        scores = self.score.forward(query, keys)  # (B, T, S)
        keys = np.asarray(keys, dtype=scores.dtype)
        B, T, S = scores.shape
        lengths = np.full(B, S) if src_lengths is None else _lengths(src_lengths, B, S)
        padding = np.arange(S)[None, :] < lengths[:, None]  # (B, S): True at real positions
        if self.window is None:
            weights = softmax(scores, np.broadcast_to(padding[:, None, :], scores.shape))  # (B, T, S)
            self.centres = None
        else:
            if self.window == "local-m":
                centres = monotonic_centres(lengths, T)  # (B, T)
            else:
                centres = self.predictor.forward(query, lengths)  # (B, T)
            weights = self.softmax_window.forward(scores, centres, padding)  # (B, T, S)
            self.centres = centres
        context = weights @ keys  # (B, T, Dk)
        self.attention_weights = weights
        self.cache = (keys, weights, padding)
        return context

    def backward(self, dcontext):
        if self.cache is None:
            raise RuntimeError("ScoreAttention.backward called before forward")
        keys, weights, _padding = self.cache
        dcontext = _as_float_array(dcontext, "dcontext", 3, "(batch, tgt_len, Dk)")
        expected = (weights.shape[0], weights.shape[1], keys.shape[2])  # (B, T, Dk)
        if dcontext.shape != expected:
            raise ValueError(f"dcontext must have the context's shape {expected}, got {dcontext.shape}")
        dweights = dcontext @ keys.transpose(0, 2, 1)  # (B, T, S)
        dkeys_values = weights.transpose(0, 2, 1) @ dcontext  # (B, S, Dk): the keys are also the values
        dquery_extra = 0.0
        if self.window is None:
            dscores = weights * (dweights - (weights * dweights).sum(axis=-1, keepdims=True))
        else:
            dscores, dcentres = self.softmax_window.backward(dweights)
            if self.predictor is not None:
                dquery_extra = self.predictor.backward(dcentres)  # the gradient that reaches W_p
        dquery, dkeys = self.score.backward(dscores)
        return dquery + dquery_extra, dkeys + dkeys_values
