"""Write chapter 07's diagrams as SVG text: ``python chapters/figures/make_07.py``.

* ``07_stacked_residual_rnn.svg``: a stack of three LSTM layers unrolled over four steps, with
  dropout between layers and skip connections from layer 2 on, shapes and symbols as in the
  chapter (``h_t^(l)``, ``u_t^(l)``, ``(batch, H)``).
* ``07_beam_search.svg``: beam search with beam size 3 on the word "phone": every step extends
  each kept hypothesis by every token, keeps the 3 best sums of log-probabilities, and carries a
  hypothesis that has ended (with </s>) along unchanged.

Only the standard library; the files are deterministic, so re-running it changes nothing.
"""
from __future__ import annotations

from html import escape
from pathlib import Path

HERE = Path(__file__).resolve().parent
FONT = "font-family='DejaVu Sans, Helvetica, Arial, sans-serif'"
GREY, ORANGE, BLUE, GREEN, RED = "#666666", "#d95f02", "#1f77b4", "#2ca02c", "#b22222"


def _svg(width: int, height: int, body: list[str], title: str) -> str:
    defs = (
        "<defs>"
        + "".join(
            f"<marker id='arrow-{name}' viewBox='0 0 10 10' refX='9' refY='5' markerWidth='7' markerHeight='7' "
            f"orient='auto-start-reverse'><path d='M0,0 L10,5 L0,10 z' fill='{colour}'/></marker>"
            for name, colour in (("grey", GREY), ("orange", ORANGE), ("blue", BLUE), ("green", GREEN), ("red", RED))
        )
        + "</defs>"
    )
    return (
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' viewBox='0 0 {width} {height}' {FONT}>\n"
        f"<title>{title}</title>\n{defs}\n<rect width='100%' height='100%' fill='white'/>\n"
        + "\n".join(body)
        + "\n</svg>\n"
    )


def _text(x, y, s, size=13, anchor="middle", colour="black", weight="normal", style="normal"):
    return (f"<text x='{x}' y='{y}' font-size='{size}' text-anchor='{anchor}' fill='{colour}' "
            f"font-weight='{weight}' font-style='{style}'>{s}</text>")


def _sym(x, y, base, sub="", sup="", size=14, anchor="middle", colour="black"):
    """A symbol like h_t^(l) with a real subscript and superscript."""
    small = int(size * 0.72)
    parts = [f"<tspan font-style='italic'>{base}</tspan>"]
    if sup:
        parts.append(f"<tspan dy='-6' font-size='{small}'>{sup}</tspan>")
    if sub:
        parts.append(f"<tspan dy='{11 if sup else 5}' dx='{-small * 0.55 * len(sup) if sup else 0:.1f}' "
                     f"font-size='{small}'>{sub}</tspan>")
    return f"<text x='{x}' y='{y}' font-size='{size}' text-anchor='{anchor}' fill='{colour}'>{''.join(parts)}</text>"


def _line(x1, y1, x2, y2, colour=GREY, arrow="grey", width=1.6, dash=None):
    dash_attr = f" stroke-dasharray='{dash}'" if dash else ""
    marker = f" marker-end='url(#arrow-{arrow})'" if arrow else ""
    return (f"<line x1='{x1}' y1='{y1}' x2='{x2}' y2='{y2}' stroke='{colour}' stroke-width='{width}'"
            f"{dash_attr}{marker}/>")


def _path(d, colour=GREY, arrow="grey", width=1.6, dash=None):
    dash_attr = f" stroke-dasharray='{dash}'" if dash else ""
    marker = f" marker-end='url(#arrow-{arrow})'" if arrow else ""
    return f"<path d='{d}' fill='none' stroke='{colour}' stroke-width='{width}'{dash_attr}{marker}/>"


def _box(x, y, w, h, fill="#eef3fb", stroke=BLUE, rx=6, dash=None):
    dash_attr = f" stroke-dasharray='{dash}'" if dash else ""
    return f"<rect x='{x}' y='{y}' width='{w}' height='{h}' rx='{rx}' fill='{fill}' stroke='{stroke}' stroke-width='1.5'{dash_attr}/>"


# --------------------------------------------------------------------------- stacked residual RNN
def stacked_residual_rnn() -> str:
    body = []
    steps, layers = 4, 3
    x0, dx = 125, 150  # column centres: x0 + t * dx
    cell_w, cell_h = 78, 38
    # y of each layer's cell (bottom layer lowest)
    cell_y = {1: 490, 2: 320, 3: 150}
    plus_dy = -48  # the + of each layer from 2 on sits above its cell
    body.append(_text(445, 24, "A stack of N = 3 LSTM layers unrolled over the source:", 15, weight="bold"))
    body.append(_text(445, 44, "dropout between layers, skip connections (orange) from layer 2 on", 15, weight="bold"))
    for t in range(steps):
        cx = x0 + t * dx
        label = ["1", "2", "3", "T"][t]
        # input embedding at the bottom
        body.append(_box(cx - 32, 580, 64, 28, fill="#f4f4f4", stroke=GREY))
        body.append(_sym(cx, 599, "x", label))
        body.append(_line(cx, 580, cx, cell_y[1] + cell_h + 2))
        for level in range(1, layers + 1):
            y = cell_y[level]
            body.append(_box(cx - cell_w / 2, y, cell_w, cell_h))
            body.append(_text(cx, y + 24, f"LSTM<tspan font-size='10' dy='4'>{level}</tspan>", 14))
            if level == 1:
                out_top = y  # layer 1's output leaves the top of the cell
            else:
                # the + node: u (dropped output of the layer below) + LSTM_l(u)
                py = y + plus_dy
                body.append(f"<circle cx='{cx}' cy='{py}' r='10' fill='white' stroke='{ORANGE}' stroke-width='1.8'/>")
                body.append(_text(cx, py + 5, "+", 16, colour=ORANGE, weight="bold"))
                body.append(_line(cx, y, cx, py + 11))  # LSTM_l(u) up into +
                # skip path: from below the cell, around its right side, into +
                below = y + cell_h + 30
                sx = cx + cell_w / 2 + 16
                body.append(_path(f"M{cx},{below} L{sx},{below} L{sx},{py} L{cx + 11},{py}", colour=ORANGE,
                                  arrow="orange", width=1.8))
                out_top = py - 10
            # recurrent connection to the next step
            if t < steps - 1:
                body.append(_line(cx + cell_w / 2, y + cell_h / 2, cx + dx - cell_w / 2 - 2, y + cell_h / 2))
                if t == 0:
                    body.append(_sym(cx + dx / 2, y + cell_h / 2 - 7, "h", "1", f"({level})", size=12, colour=GREY))
            # dropout between this layer and the next
            if level < layers:
                ny = cell_y[level + 1]
                dy_mid = (out_top + ny + cell_h + 30) / 2 + 4
                body.append(_line(cx, out_top, cx, dy_mid + 10, arrow=None))
                body.append(_box(cx - 23, dy_mid - 9, 46, 19, fill="#fff7e6", stroke=ORANGE, rx=4, dash="4,2"))
                body.append(_text(cx, dy_mid + 5, "drop", 11, colour=ORANGE))
                body.append(_line(cx, dy_mid + 10, cx, ny + cell_h + 2, arrow="grey")
                            if False else _line(cx, dy_mid - 9, cx, ny + cell_h + 2))
            else:
                body.append(_line(cx, out_top, cx, 76))
                body.append(_sym(cx, 70, "h", label, f"({layers})", size=13))
        if t == 2:  # the dots between step 3 and T
            pass
    # labels on the left: what crosses each boundary
    body.append(_text(x0 - 6, 560, "(batch, E)", 10, anchor="end", colour=GREY))
    for level in (1, 2):
        body.append(_text(x0 - 6, cell_y[level] - 12, "(batch, H)", 10, anchor="end", colour=GREY))
    # the right-hand panel: the equations
    px = 735
    body.append(_box(px - 12, 120, 195, 420, fill="#fafafa", stroke="#bbbbbb"))
    lines = [
        ("layer 1:", None),
        ("h⁽¹⁾ₜ = LSTM₁(xₜ, h⁽¹⁾ₜ₋₁)", None),
        ("", None),
        ("layer l ≥ 2:", None),
        ("uₜ = drop(h⁽ˡ⁻¹⁾ₜ)", ORANGE),
        ("h⁽ˡ⁾ₜ = uₜ + LSTMₗ(uₜ, h⁽ˡ⁾ₜ₋₁)", ORANGE),
        ("", None),
        ("backward through +:", None),
        ("∂L/∂uₜ = ∂L/∂h⁽ˡ⁾ₜ", ORANGE),
        ("      + Jᵀ ∂L/∂h⁽ˡ⁾ₜ", None),
        ("(the identity path hands", GREY),
        (" the gradient down as is)", GREY),
        ("", None),
        ("drop: dropout, training", ORANGE),
        (" only, between layers,", ORANGE),
        (" never on the arrows ⟶", ORANGE),
        (" from step t−1 to t", ORANGE),
        ("", None),
        ("shapes: xₜ (batch, E),", GREY),
        ("h⁽ˡ⁾ₜ (batch, H); the top", GREY),
        ("layer's h⁽ᴺ⁾ₜ is the memory", GREY),
        ("(batch, S, H) attention reads", GREY),
    ]
    for i, (s, colour) in enumerate(lines):
        body.append(_text(px - 2, 143 + 18 * i, s, 12, anchor="start", colour=colour or "black"))
    body.append(_text(470, 636, "Layer 1 changes the size (E → H), so its output has no skip; "
                                "bidirectional layers do the same with [forward ; backward] states.", 12, colour=GREY))
    return _svg(940, 650, body, "Stacked LSTM with dropout between layers and residual connections")


# --------------------------------------------------------------------------- beam search
def beam_search() -> str:
    body = []
    body.append(_text(450, 26, "Beam search, beam size k = 3, on the letters of \"phone\"", 15, weight="bold"))
    body.append(_text(450, 46, "each number is the hypothesis's score so far: the sum of log p(token | tokens before, source)",
                      12, colour=GREY))
    col = {0: 85, 1: 240, 2: 410, 3: 580, 4: 750}
    rows = [100, 175, 250, 325, 400]
    # (step, row, label, score, kept, parent (step, row), finished)
    nodes = [
        (0, 1, "<s>", "0.0", True, None, False),
        (1, 0, "F", "−0.2", True, (0, 1), False),
        (1, 1, "P", "−2.1", True, (0, 1), False),
        (1, 2, "V", "−3.0", True, (0, 1), False),
        (1, 3, "B", "−4.6", False, (0, 1), False),
        (2, 0, "F OW1", "−0.9", True, (1, 0), False),
        (2, 1, "F AO1", "−1.6", True, (1, 0), False),
        (2, 2, "F </s>", "−2.3", True, (1, 0), True),
        (2, 3, "P OW1", "−2.6", False, (1, 1), False),
        (2, 4, "V OW1", "−3.4", False, (1, 2), False),
        (3, 0, "F OW1 N", "−1.0", True, (2, 0), False),
        (3, 1, "F </s>", "−2.3", True, (2, 2), True),
        (3, 2, "F AO1 N", "−2.5", True, (2, 1), False),
        (3, 3, "F OW1 M", "−4.1", False, (2, 0), False),
        (4, 0, "F OW1 N </s>", "−1.1", True, (3, 0), True),
        (4, 1, "F </s>", "−2.3", True, (3, 1), True),
        (4, 2, "F AO1 N </s>", "−2.7", True, (3, 2), True),
    ]
    pos = {(s, r): (col[s], rows[r]) for s, r, *_ in nodes}
    for s, r, label, score, kept, parent, finished in nodes:
        if parent is None:
            continue
        (x1, y1), (x2, y2) = pos[parent], pos[(s, r)]
        carried = finished and parent is not None and label == "F </s>" and s > 2
        colour = GREEN if carried else (BLUE if kept else "#bbbbbb")
        body.append(_line(x1 + 62, y1, x2 - 66, y2, colour=colour, arrow="green" if carried else ("blue" if kept else "grey"),
                          width=1.6, dash="5,3" if carried else (None if kept else "3,3")))
    for s, r, label, score, kept, parent, finished in nodes:
        x, y = pos[(s, r)]
        fill = "#e9f7ec" if finished else ("#eef3fb" if kept else "#f6f6f6")
        stroke = GREEN if finished else (BLUE if kept else "#bbbbbb")
        body.append(_box(x - 64, y - 17, 128, 34, fill=fill, stroke=stroke))
        colour = "black" if kept else "#999999"
        body.append(_text(x, y - 1, escape(label), 12, colour=colour))
        body.append(_text(x, y + 13, score, 11, colour=GREY if kept else "#aaaaaa"))
        if not kept:
            body.append(_line(x - 58, y + 15, x + 58, y - 15, colour="#cc9999", arrow=None, width=1.2))
    for s in range(5):
        body.append(_text(col[s], 445, f"step {s}" if s else "start", 12, colour=GREY))
    notes = [
        ("Every step: each of the k kept hypotheses × every token of the vocabulary gives k·V candidates, scored by", "black"),
        ("the sum of log-probabilities; keep the k best of all of them (two may extend the same hypothesis, as F OW1", "black"),
        ("and F AO1 do). Crossed out: candidates that fell out of the beam.", "black"),
        ("Green: a hypothesis that produced </s>. It stays in the beam with its score unchanged (dashed), competing", GREEN),
        ("with the live ones, until all k have ended.", GREEN),
        ("Final choice: the best score / |y|^α (|y| = steps, </s> included). With α = 0, the one-phoneme \"F </s>\" (−2.3)", RED),
        ("ranks above \"F AO1 N </s>\" (−2.7): every step adds a negative term. With α = 1: −1.15 against −0.68.", RED),
    ]
    for i, (s, colour) in enumerate(notes):
        body.append(_text(20, 476 + 19 * i, escape(s, quote=False), 12, anchor="start", colour=colour))
    return _svg(900, 616, body, "Beam search with beam size 3")


def main() -> None:
    for name, svg in (("07_stacked_residual_rnn.svg", stacked_residual_rnn()), ("07_beam_search.svg", beam_search())):
        (HERE / name).write_text(svg, encoding="utf-8")
        print("wrote", HERE / name)


if __name__ == "__main__":
    main()
