"""An end-to-end benchmark workload: train a character LSTM, lstmlab against PyTorch.

The workload of a learner's first real model: Embedding(V, E) -> LSTM(E, H)
-> Linear(H, V), cross-entropy on the next character, gradient clipping
(global norm 5) and Adam, float32, batches of N streams of T characters::

    E = 64, H = 256, N = 32, T = 64

Both libraries train the same model, from the same initial weights, on the
same batches, one step each in turn (interleaved, so a change of load on the
machine hits both); the figure is characters per second, N*T / the median
step time, and the ratio lstmlab / PyTorch (above 1: lstmlab is faster).

The text, 1 MB, is generated, not downloaded: words drawn from a fixed list
by a seeded generator, with capitals, punctuation and line breaks (42
distinct characters), so anyone gets the same text.

Examples
--------
>>> text = generated_text(2000, seed=0)
>>> len(text), len(set(text)) <= 40, text == generated_text(2000, seed=0)
(2000, True, True)
"""

from __future__ import annotations

import statistics
import time

import numpy as np

from .clip import clip_grad_norm
from .data import bptt_batches
from .embedding import Embedding
from .layers import LSTM
from .linear import Linear
from .losses import cross_entropy
from .model import Model
from .optim import Adam

__all__ = ["CHARLM", "generated_text", "CharLSTM", "run_charlm"]

CHARLM = {"E": 64, "H": 256, "N": 32, "T": 64, "clip": 5.0, "lr": 2e-3}
_WORDS = ("the of and to in is was that for on with as by at from it an be this which or "
          "are were have has had not but all one their there been its when who will more "
          "time state cell gate memory forget input output learn sequence network hidden "
          "value model train step gradient weight long short term layer batch").split()


def generated_text(n_chars, seed=0):
    """``n_chars`` characters of word salad: sentences of words from a fixed list.

    Parameters
    ----------
    n_chars : int
    seed : int
        The same seed gives the same text.

    Returns
    -------
    str
    """
    rng = np.random.default_rng(seed)
    parts, size = [], 0
    while size < n_chars:
        words = [_WORDS[k] for k in rng.integers(0, len(_WORDS), size=rng.integers(4, 14))]
        words[0] = words[0].capitalize()
        sentence = " ".join(words) + (". " if rng.random() < 0.8 else ",\n")
        parts.append(sentence)
        size += len(sentence)
    return "".join(parts)[:n_chars]


class CharLSTM(Model):
    """Embedding -> LSTM -> Linear over (T, N) character ids, in float32 by default.

    Examples
    --------
    >>> model = CharLSTM(V=10, E=4, H=8, rng=0)
    >>> logits = model.forward(np.zeros((3, 2), dtype=int))
    >>> logits.shape, logits.dtype
    ((3, 2, 10), dtype('float32'))
    >>> model.backward(np.ones_like(logits))
    """

    def __init__(self, V, E, H, dtype=np.float32, rng=None, fast=True):
        rng = np.random.default_rng(rng)
        super().__init__(embed=Embedding(V, E, dtype=dtype, rng=rng),
                         rnn=LSTM(E, H, dtype=dtype, rng=rng, fast=fast),
                         head=Linear(H, V, dtype=dtype, rng=rng))

    def forward(self, ids):
        hs, _ = self.rnn.forward(self.embed.forward(ids))  # (T, N, H)
        return self.head.forward(hs)  # (T, N, V)

    def backward(self, dlogits):
        dx, _ = self.rnn.backward(self.head.backward(dlogits))
        self.embed.backward(dx)


def _torch_twin(torch, model, V, E, H):
    """The same model in PyTorch, with the same initial weights."""
    nn = torch.nn

    class TorchCharLSTM(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(V, E)
            self.rnn = nn.LSTM(E, H)
            self.head = nn.Linear(H, V)

        def forward(self, ids):
            hs, _ = self.rnn(self.embed(ids))
            return self.head(hs)

    twin = TorchCharLSTM()
    state = {"embed.weight": model.params["embed.W"], "head.weight": model.params["head.W"].T,
             "head.bias": model.params["head.b"]}
    state.update({f"rnn.{k}": v for k, v in model.rnn.torch_state_dict().items()})
    twin.load_state_dict({k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in state.items()})
    return twin


def run_charlm(torch=None, steps=20, warmup=3, n_chars=1_000_000, seed=0, fast=True):
    """Train both models for ``steps`` interleaved steps; return a dict of figures.

    Returns
    -------
    dict
        ``chars_per_s`` (lstmlab), ``torch_chars_per_s`` and ``ratio`` (with
        torch), the median step times in ms, the first and last losses, V and
        the sizes.
    """
    E, H, N, T = CHARLM["E"], CHARLM["H"], CHARLM["N"], CHARLM["T"]
    text = generated_text(n_chars, seed)  # 1 MB by default: one byte per character
    alphabet = sorted(set(text))
    codes = np.zeros(128, dtype=np.int64)  # the text is ASCII: character code -> id
    codes[[ord(ch) for ch in alphabet]] = np.arange(len(alphabet))
    ids = codes[np.frombuffer(text.encode("ascii"), dtype=np.uint8)]
    V = len(alphabet)
    batches = list(bptt_batches(ids, N, T))
    batches = [(x, y) for x, y in batches if x.shape[0] == T]
    model = CharLSTM(V, E, H, rng=seed, fast=fast)
    opt = Adam(model.params, model.grads, lr=CHARLM["lr"])

    def lstmlab_step(x, y):
        model.zero_grad()
        loss, dlogits = cross_entropy(model.forward(x), y)
        model.backward(dlogits)
        clip_grad_norm(model.grads, CHARLM["clip"])
        opt.step()
        return loss

    work = [lstmlab_step]
    if torch is not None:
        twin = _torch_twin(torch, model, V, E, H)
        topt = torch.optim.Adam(twin.parameters(), lr=CHARLM["lr"])
        tbatches = [(torch.from_numpy(x), torch.from_numpy(y)) for x, y in batches]

        def torch_step(k):
            x, y = tbatches[k]
            topt.zero_grad()
            loss = torch.nn.functional.cross_entropy(twin(x).reshape(-1, V), y.reshape(-1))
            loss.backward()
            torch.nn.utils.clip_grad_norm_(twin.parameters(), CHARLM["clip"])
            topt.step()
            return loss.item()

        work.append(torch_step)
    times = [[] for _ in work]
    losses = [[] for _ in work]
    for k in range(warmup + steps):
        x, y = batches[k % len(batches)]
        for w, fn in enumerate(work):
            t0 = time.perf_counter()
            loss = fn(x, y) if w == 0 else fn(k % len(batches))
            if k >= warmup:
                times[w].append(time.perf_counter() - t0)
            losses[w].append(float(loss))
    ms = [1e3 * statistics.median(t) for t in times]
    out = {"V": V, "E": E, "H": H, "N": N, "T": T, "steps": steps, "step_ms": ms[0],
           "chars_per_s": N * T / (ms[0] / 1e3), "loss_first": losses[0][0],
           "loss_last": losses[0][-1]}
    if torch is not None:
        out.update(torch_step_ms=ms[1], torch_chars_per_s=N * T / (ms[1] / 1e3),
                   torch_loss_first=losses[1][0], torch_loss_last=losses[1][-1])
        out["ratio"] = out["chars_per_s"] / out["torch_chars_per_s"]
    return out
