"""Write chapters/figures/02_encoder_decoder.svg, the diagram of chapter 02.

Run from the repository root: ``python chapters/figures/make_02.py``. Plain text SVG, no
dependencies, so the figure renders in JupyterLab and on GitHub and can be edited here.
Symbols and shapes are those of utils/scratch/seq2seq.py and the chapter's math (B batch, src_len /
tgt_len the padded lengths, a row's own source length T, E embed_size, H hidden_size, V vocabulary).
"""
from pathlib import Path

ENC, DEC, CTX, GREY, PEEK = "#4c72b0", "#dd8452", "#c44e52", "#666666", "#8172b3"
WIDTH, HEIGHT = 1100, 600
SOURCE = ["d", "o", "g"]
TARGET_IN = ["&lt;s&gt;", "g", "o", "d"]
TARGET_OUT = ["g", "o", "d", "&lt;/s&gt;"]
BOX_W, BOX_H = 70, 44
X_ENC, X_DEC, DX = 70, 590, 120
Y_OUT, Y_AFF, Y_RNN, Y_EMB, Y_IN = 90, 170, 290, 390, 470

parts = [
    (f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
     f'viewBox="0 0 {WIDTH} {HEIGHT}" font-family="Helvetica, Arial, sans-serif" font-size="14">'),
    "<defs>",
    *(f'<marker id="arrow-{name}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" '
      f'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="{color}"/></marker>'
      for name, color in (("e", ENC), ("d", DEC), ("c", CTX), ("g", GREY), ("p", PEEK))),
    "</defs>",
    f'<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/>',
    ('<text x="20" y="30" font-size="18" font-weight="bold">The plain encoder-decoder: the whole source reaches '
     "the decoder through one vector c = h_T</text>"),
]
COLORS = {"e": ENC, "d": DEC, "c": CTX, "g": GREY, "p": PEEK}


def box(x, y, label, color, sub=None, fill="white", w=BOX_W, h=BOX_H):
    parts.append(f'<rect x="{x}" y="{y}" width="{w}" height="{h}" rx="6" fill="{fill}" stroke="{color}" '
                 'stroke-width="2"/>')
    parts.append(f'<text x="{x + w / 2}" y="{y + (h / 2 if sub is None else h / 2 - 6)}" text-anchor="middle" '
                 f'dominant-baseline="middle" fill="{color}">{label}</text>')
    if sub is not None:
        parts.append(f'<text x="{x + w / 2}" y="{y + h / 2 + 11}" text-anchor="middle" font-size="11" '
                     f'fill="{GREY}">{sub}</text>')


def line(points, kind, dashed=False, width=1.8):
    dash = ' stroke-dasharray="5,4"' if dashed else ""
    path = " ".join(f"{x},{y}" for x, y in points)
    parts.append(f'<polyline points="{path}" fill="none" stroke="{COLORS[kind]}" stroke-width="{width}"{dash} '
                 f'marker-end="url(#arrow-{kind})"/>')


def text(x, y, content, color="black", size=13, anchor="start", weight="normal"):
    parts.append(f'<text x="{x}" y="{y}" font-size="{size}" text-anchor="{anchor}" fill="{color}" '
                 f'font-weight="{weight}">{content}</text>')


# ---------------------------------------------------------------- encoder
text(X_ENC, Y_AFF + 20, "encoder: TimeEmbedding → TimeLSTM", ENC, size=14, weight="bold")
text(X_ENC, Y_AFF + 40, "reads the source x_1 .. x_T (here T = 3)", ENC, size=12)
for j, letter in enumerate(SOURCE, start=1):
    x = X_ENC + (j - 1) * DX
    cx = x + BOX_W / 2
    box(x, Y_IN, f"x{j} = '{letter}'", GREY)
    box(x, Y_EMB, f"emb(x{j})", ENC, "(B, E)")
    last = j == len(SOURCE)
    box(x, Y_RNN, f"h{j}" if not last else "h3 = h_T", ENC, "(B, H)", fill="#dde6f3" if last else "white")
    line([(cx, Y_IN), (cx, Y_EMB + BOX_H + 2)], "g")
    line([(cx, Y_EMB), (cx, Y_RNN + BOX_H + 2)], "e")
    if j > 1:
        line([(x - DX + BOX_W, Y_RNN + BOX_H / 2), (x - 2, Y_RNN + BOX_H / 2)], "e")
text(X_ENC, Y_IN + BOX_H + 24, "src_ids (B, src_len); src_lengths (B,): h_T is taken at", GREY, 12)
text(X_ENC, Y_IN + BOX_H + 40, "each row's own last token, so the padding after it is never read", GREY, 12)
text(X_ENC - 62, Y_RNN + BOX_H / 2 + 4, "h_0 = 0", GREY, 12)
line([(X_ENC - 16, Y_RNN + BOX_H / 2), (X_ENC - 2, Y_RNN + BOX_H / 2)], "e")

# ---------------------------------------------------------------- the context vector
cx_x, cx_y = X_ENC + 2 * DX + BOX_W + 50, Y_RNN - 10
box(cx_x, cx_y, "c = h_T", CTX, "(B, H)", fill="#f6dcdc", w=90, h=64)
line([(X_ENC + 2 * DX + BOX_W, Y_RNN + BOX_H / 2), (cx_x - 2, Y_RNN + BOX_H / 2)], "c", width=2.5)
line([(cx_x + 90, Y_RNN + BOX_H / 2), (X_DEC - 2, Y_RNN + BOX_H / 2)], "c", width=2.5)
text(cx_x + 100, Y_RNN + BOX_H / 2 - 8, "s_0 = c", CTX, 12)
text(cx_x - 6, cx_y + 86, "(and c_T, the LSTM's", CTX, 11)
text(cx_x - 6, cx_y + 100, "cell state, starts the", CTX, 11)
text(cx_x - 6, cx_y + 114, "decoder's cell)", CTX, 11)

# ---------------------------------------------------------------- decoder
text(X_DEC - 150, Y_OUT - 28, "decoder: TimeEmbedding → TimeLSTM → TimeAffine → TimeSoftmaxWithLoss", DEC, size=14, weight="bold")
text(X_DEC - 150, Y_OUT - 10, "(the loss: mean of -log p(y_t) over the real target tokens)", DEC, size=12)
for t, (y_in, y_out) in enumerate(zip(TARGET_IN, TARGET_OUT), start=1):
    x = X_DEC + (t - 1) * DX
    cx = x + BOX_W / 2
    box(x, Y_IN, f"y{t - 1} = {y_in}" if t > 1 else y_in, GREY)
    box(x, Y_EMB, f"emb(y{t - 1})", DEC, "(B, E)")
    box(x, Y_RNN, f"s{t}", DEC, "(B, H)")
    box(x, Y_AFF, f"W s{t} + b", DEC, "(B, V)")
    box(x, Y_OUT, f"{y_out}", GREY, "softmax, loss")
    line([(cx, Y_IN), (cx, Y_EMB + BOX_H + 2)], "g")
    line([(cx, Y_EMB), (cx, Y_RNN + BOX_H + 2)], "d")
    line([(cx, Y_RNN), (cx, Y_AFF + BOX_H + 2)], "d")
    line([(cx, Y_AFF), (cx, Y_OUT + BOX_H + 2)], "d")
    if t > 1:
        line([(x - DX + BOX_W, Y_RNN + BOX_H / 2), (x - 2, Y_RNN + BOX_H / 2)], "d")
        # teacher forcing: the true previous token is the next input
    # peeky: c joins every step's LSTM input and affine input
    line([(x - 14, Y_RNN - 22), (x + 8, Y_RNN - 2)], "p", dashed=True, width=1.4)
line([(cx_x + 45, cx_y), (cx_x + 45, Y_RNN - 22), (X_DEC + 3 * DX - 14, Y_RNN - 22)], "p", dashed=True, width=1.4)
text(X_DEC + 10, Y_RNN - 30, "peeky=True only: c also enters every step, [emb(y_{t-1}); c] and [s_t; c]", PEEK, 12)
text(X_DEC, Y_IN + BOX_H + 24, "tgt_in = &lt;s&gt; y_1 .. y_n (B, tgt_len) (teacher forcing: the true previous token)", GREY, 12)
text(X_DEC, Y_IN + BOX_H + 40, "tgt_out = y_1 .. y_n &lt;/s&gt; (B, tgt_len); logits (B, tgt_len, V); pads ignored",
     GREY, 12)

parts.append("</svg>")
out = Path(__file__).with_name("02_encoder_decoder.svg")
out.write_text("\n".join(parts) + "\n")
print(f"wrote {out}")
