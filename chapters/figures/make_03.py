"""Write the diagram of chapter 03 (alignment and the context vector) into chapters/figures/.

* ``03_where_attention_sits.svg``: chapter 03's attention model (``attention="dot"``: Luong
  placement, dot score, logits = W [c_i; s_i] + b) for a whole teacher-forced batch, every
  tensor with its shape and its symbol from the text and the code: source ids, embeddings
  x_j, encoder states h_j, the hand-off s_0 = h_S, decoder states s_i, scores e_ij, weights
  a_ij, contexts c_i, the concatenation [c_i; s_i] and the logits.

Run from the repository root: ``python chapters/figures/make_03.py``. Plain text SVG, no
dependencies, so the figure renders in JupyterLab and on GitHub and can be edited here. The
colours are chapter 04's (encoder blue, decoder green, attention orange, output purple).
"""
from pathlib import Path

ENC, DEC, ATT, OUT, GREY = "#4c72b0", "#55a868", "#dd8452", "#8172b3", "#666666"
COLORS = {"e": ENC, "d": DEC, "a": ATT, "o": OUT, "g": GREY}
HERE = Path(__file__).resolve().parent


class Drawing:
    def __init__(self, width: int, height: int, title: str):
        self.width, self.height = width, height
        self.parts = [
            (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" font-family="Helvetica, Arial, sans-serif" font-size="14">'),
            "<defs>",
            *(f'<marker id="arrow-{k}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" '
              f'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="{c}"/></marker>'
              for k, c in COLORS.items()),
            "</defs>",
            f'<rect width="{width}" height="{height}" fill="white"/>',
            f'<text x="20" y="32" font-size="18" font-weight="bold">{title}</text>',
        ]

    def box(self, x, y, w, h, kind, label, sub=None, fill="white"):
        """A box with a label and (below it, grey) the tensor's shape."""
        color = COLORS[kind]
        self.parts.append(f'<rect x="{x}" y="{y}" width="{w}" height="{h}" rx="6" fill="{fill}" stroke="{color}" '
                          f'stroke-width="2"/>')
        ty = y + h / 2 if sub is None else y + h / 2 - 8
        self.parts.append(f'<text x="{x + w / 2}" y="{ty}" text-anchor="middle" dominant-baseline="middle" '
                          f'fill="{color}">{label}</text>')
        if sub is not None:
            self.parts.append(f'<text x="{x + w / 2}" y="{y + h / 2 + 11}" text-anchor="middle" '
                              f'dominant-baseline="middle" font-size="12" fill="{GREY}">{sub}</text>')

    def arrow(self, points, kind="g", dashed=False):
        dash = ' stroke-dasharray="6,4"' if dashed else ""
        path = " ".join(f"{x},{y}" for x, y in points)
        self.parts.append(f'<polyline points="{path}" fill="none" stroke="{COLORS[kind]}" stroke-width="1.8"{dash} '
                          f'marker-end="url(#arrow-{kind})"/>')

    def text(self, x, y, content, kind="g", size=13, anchor="start", weight="normal"):
        self.parts.append(f'<text x="{x}" y="{y}" font-size="{size}" text-anchor="{anchor}" fill="{COLORS[kind]}" '
                          f'font-weight="{weight}">{content}</text>')

    def save(self, name: str) -> None:
        (HERE / name).write_text("\n".join(self.parts + ["</svg>"]) + "\n", encoding="utf-8")


def where_attention_sits() -> None:
    d = Drawing(1180, 660, "Where attention sits in chapter 03's model, with the shape of every tensor")
    d.text(20, 56, "B = batch, src_len = T source positions, tgt_len = output steps (target + &lt;/s&gt;), "
                   "E = embed_size (32), H = hidden_size (64), V = output vocabulary", size=13)
    # ------------------------------------------------------------------ encoder (left column)
    ex, w = 30, 240
    d.text(ex, 96, "ENCODER", "e", size=15, weight="bold")
    d.box(ex, 110, w, 50, "e", "source ids", "src_ids (B, src_len)")
    d.box(ex, 200, w, 50, "e", "embedding x_j", "(B, src_len, E)")
    d.box(ex, 290, w, 50, "e", "encoder LSTM", "h_j = LSTM(x_j, h_{j-1})")
    d.box(ex, 380, w, 56, "e", "encoder states h_1 .. h_T", "memory / hs (B, src_len, H)", fill="#eef3fa")
    for y0, y1 in ((160, 200), (250, 290), (340, 380)):
        d.arrow([(ex + w / 2, y0), (ex + w / 2, y1 - 2)], "e")
    # ------------------------------------------------------------------ decoder (middle column)
    dx = 490
    d.text(dx, 96, "DECODER (teacher-forced)", "d", size=15, weight="bold")
    d.box(dx, 110, w, 50, "d", "previous tokens y_{i-1}", "tgt_in (B, tgt_len): &lt;s&gt; y_1 ..")
    d.box(dx, 200, w, 50, "d", "embedding", "(B, tgt_len, E)")
    d.box(dx, 290, w, 50, "d", "decoder LSTM", "s_i = LSTM(y_{i-1}, s_{i-1})")
    d.box(dx, 380, w, 56, "d", "decoder states s_i, every step i", "queries (B, tgt_len, H)", fill="#eef7f0")
    for y0, y1 in ((160, 200), (250, 290), (340, 380)):
        d.arrow([(dx + w / 2, y0), (dx + w / 2, y1 - 2)], "d")
    # the hand-off: s_0 = h_S (bridge "copy")
    d.arrow([(ex + w, 315), (dx - 2, 315)], "g", dashed=True)
    d.text((ex + w + dx) / 2, 300, "s_0 = h_T (and its cell state)", "g", size=12, anchor="middle")
    d.text((ex + w + dx) / 2, 336, "(layers, B, H), bridge \"copy\"", "g", size=12, anchor="middle")
    # ------------------------------------------------------------------ attention (bottom band)
    ay = 480
    d.parts.append(f'<rect x="30" y="{ay - 14}" width="930" height="124" rx="10" fill="#fdf3ec" stroke="{ATT}" '
                   'stroke-width="1.5" stroke-dasharray="5,4"/>')
    d.text(50, ay + 100, "ATTENTION (utils.nn.Attention with DotScore; NumPy: TimeAttention = AttentionWeight + "
                       "WeightedSum)", "a", size=13, weight="bold")
    d.box(50, ay + 20, 250, 60, "a", "scores e_ij = s_i · h_j", "(B, tgt_len, src_len)")
    d.box(350, ay + 20, 250, 60, "a", "weights a_ij = softmax_j", "(B, tgt_len, src_len), pads masked")
    d.box(650, ay + 20, 290, 60, "a", "contexts c_i = Σ_j a_ij h_j", "(B, tgt_len, H) = bmm(a, hs)")
    d.arrow([(300, ay + 50), (348, ay + 50)], "a")
    d.arrow([(600, ay + 50), (648, ay + 50)], "a")
    # h_j feed the scores and the weighted sum; s_i feed the scores
    d.arrow([(ex + 60, 436), (ex + 60, ay + 18)], "e")
    d.arrow([(ex + w - 20, 436), (ex + w - 20, 454), (800, 454), (800, ay + 18)], "e")
    d.text(ex + 70, 452, "keys", "e", size=12)
    d.text(740, 448, "values", "e", size=12)
    d.arrow([(dx + 60, 436), (dx + 60, 446), (220, 446), (220, ay + 18)], "d")
    d.text(230, 462, "query", "d", size=12)
    # ------------------------------------------------------------------ output (right column)
    ox = 800
    d.text(ox + 30, 96, "OUTPUT LAYER", "o", size=15, weight="bold")
    d.box(ox + 30, 290, 330, 56, "o", "concatenate [c_i ; s_i]", "(B, tgt_len, 2H)")
    d.box(ox + 30, 200, 330, 50, "o", "logits_i = W [c_i ; s_i] + b", "(B, tgt_len, V); W: (V, 2H), no tanh")
    d.box(ox + 30, 110, 330, 50, "o", "loss: cross-entropy vs y_i", "(B, tgt_len) per token, pads ignored")
    d.arrow([(dx + w, 408), (ox + 80, 408), (ox + 80, 348)], "d")
    d.text(dx + w + 10, 400, "s_i", "d", size=12)
    d.arrow([(940, ay + 50), (1120, ay + 50), (1120, 348)], "a")
    d.text(1128, 420, "c_i", "a", size=12)
    d.arrow([(ox + 195, 290), (ox + 195, 252)], "o")
    d.arrow([(ox + 195, 200), (ox + 195, 162)], "o")
    # ------------------------------------------------------------------ footnote
    d.text(30, 618, "The plain model of chapter 02 is the same picture without the orange band: "
                    "logits_i = W s_i + b, and the source reaches the decoder only through s_0 = h_T.", size=13)
    d.text(30, 640, "Greedy decoding runs the decoder column one step at a time (tgt_len = 1 per call), "
                    "feeding back its own previous output.", size=13)
    d.save("03_where_attention_sits.svg")


if __name__ == "__main__":
    where_attention_sits()
