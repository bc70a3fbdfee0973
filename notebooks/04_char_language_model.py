# %% [markdown]
# # 04 · A character language model, trained and sampled
#
# **Learning path:** [01 one cell by hand](01_lstm_cell_by_hand.ipynb) → [02 backpropagation
# through time and the gradient check](02_bptt_and_gradient_check.ipynb) → [03 vanishing and
# exploding gradients](03_vanishing_exploding_gradients.ipynb) → **04 a character language
# model** → [05 sequence to sequence](05_seq2seq.ipynb)
#
# A character language model reads text one character at a time and predicts the next one.
# Trained on enough text it learns spelling, words, punctuation, indentation; sampled one
# character at a time it writes text of its own. This is Karpathy's `char-rnn`, written with
# lstmlab's parts: `ll.data.Vocab` turns characters into ids, `ll.data.bptt_batches` cuts the
# text into chunks for **truncated BPTT**, an `Embedding → LSTM → Linear` model predicts,
# `ll.cross_entropy` scores, `ll.Adam` and `ll.clip_grad_norm` train, `ll.Progress` reports,
# `ll.bits_per_char` measures and `ll.sample` writes.
#
# Each piece is explained in [docs/toolkit.md](../docs/toolkit.md); truncated BPTT (why the
# state is carried from chunk to chunk but the gradient is not) in
# [docs/bptt.md](../docs/bptt.md#truncated-bptt-and-stateful-training). The script
# [examples/char_lm.py](../examples/char_lm.py) is the long version of this notebook (a
# bigger model, minutes of training, saving and reloading).

# %%
import os

# Small matrices: one BLAS thread is faster, and on a busy machine extra BLAS threads
# that spin waiting for a core slow everything down. Set before NumPy is imported.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import time

import numpy as np

import lstmlab as ll
from lstmlab import plot
from lstmlab.data import Vocab, bptt_batches

plot.check_matplotlib()  # the figures need matplotlib: if it is missing, say so now

QUICK = os.environ.get("LSTMLAB_QUICK", "") not in ("", "0")  # the test suite's smoke run
E, H = (16, 32) if QUICK else (32, 128)  # embedding and hidden sizes
T, N = 64, 32  # truncation length (steps per chunk) and parallel streams
STEPS = 30 if QUICK else 2000  # training steps (chunks)
rng = np.random.default_rng(0)

# %% [markdown]
# ## The text: Python's own documentation
#
# We need a few hundred kilobytes of English that every Python installation has: the
# docstrings of some standard-library modules and of their classes and functions, which
# `ll.corpus.stdlib_docstrings` collects (the same Python version gives the same text; the
# example script reads about 880,000 characters of it, here we take a quarter).

# %%
MODULES = ("argparse", "collections", "contextlib", "csv", "dataclasses", "datetime",
           "decimal", "difflib", "enum", "fractions", "functools", "heapq", "inspect",
           "itertools", "json", "logging", "os", "pathlib", "random", "re", "shutil",
           "statistics", "string", "subprocess", "textwrap", "threading", "typing")
paragraphs, _ = ll.corpus.stdlib_docstrings(MODULES)  # a list of docstrings
held_out = paragraphs[9::10]  # every 10th docstring is held out: the same kind of text
train_text = "\n\n".join(p for k, p in enumerate(paragraphs) if k % 10 != 9)
val_text = "\n\n".join(held_out)
if QUICK:
    train_text, val_text = train_text[:40_000], val_text[:5_000]
print(f"{len(train_text):,} training characters, {len(val_text):,} held out")
print(train_text[2000:2400])

# %% [markdown]
# ## Characters to ids: a vocabulary
#
# `Vocab` numbers the characters, most frequent first, after the special token `<unk>`
# (id 0), which stands for anything not seen in training.

# %%
vocab = Vocab(train_text)
V = len(vocab)
train_ids, val_ids = vocab.encode(train_text), vocab.encode(val_text)
print(V, "tokens; the first ten:", vocab.tokens[:10])
print(vocab.encode("Return the"), "->", "".join(vocab.decode(vocab.encode("Return the"))))

# %% [markdown]
# Two numbers to beat, in **bits per character** (the average `-log2 p(next char)`): a model
# that guesses uniformly among V characters needs `log2 V` bits; one that only knows how
# often each letter occurs needs the entropy of the letter frequencies.

# %%
counts = np.bincount(train_ids, minlength=V) + 1.0  # add-one smoothing
unigram_bits = float(-np.mean(np.log2((counts / counts.sum())[val_ids])))
print(f"uniform: {np.log2(V):.2f} bits/char, letter frequencies: {unigram_bits:.2f} bits/char")

# %% [markdown]
# ## Chunks for truncated BPTT
#
# `bptt_batches` cuts the ids into N parallel streams (one per column) and walks down them T
# steps at a time. `y` is `x` shifted by one: the next character at every position. Chunk
# k+1 continues every stream exactly where chunk k stopped, so the model's final state after
# chunk k is the right initial state for chunk k+1.

# %%
batches = bptt_batches(train_ids, batch_size=N, seq_len=T)
x, y = next(iter(batches))
print(f"{len(batches)} chunks per epoch, each x and y of shape {x.shape} (T, N)")
print("stream 0, x:", repr("".join(vocab.decode(x[:40, 0]))))
print("stream 0, y:", repr("".join(vocab.decode(y[:40, 0]))))

# %% [markdown]
# ## The model
#
# `Embedding` turns each id into a vector of E numbers, an `LSTM` layer reads them in order,
# and a `Linear` layer turns each hidden state into V scores (logits) for the next
# character. `ll.Model` collects the parts' weights under dotted names, so one optimizer
# serves them all. `forward(ids, state) -> (logits, state)` is also the protocol `ll.sample`
# expects. The backward runs the same parts in reverse; the gradient of the chunk's initial
# state is dropped: that is the truncation.

# %%
class CharLM(ll.Model):
    def __init__(self, V, E, H, rng=None):
        super().__init__(embed=ll.Embedding(V, E, dtype=np.float32, rng=rng),
                         rnn=ll.LSTM(E, H, forget_bias=1.0, dtype=np.float32, rng=rng),
                         head=ll.Linear(H, V, dtype=np.float32, rng=rng))

    def forward(self, ids, state=None):  # ids (T, N) -> logits (T, N, V)
        hs, state = self.rnn.forward(self.embed.forward(ids), state)  # (T, N, H)
        return self.head.forward(hs), state

    def backward(self, dlogits):
        dhs = self.head.backward(dlogits)
        dx, _dstate0 = self.rnn.backward(dhs)  # dstate0 stops here: truncated BPTT
        self.embed.backward(dx)


model = CharLM(V, E, H, rng=rng)
print(model.summary())

# %% [markdown]
# float32 halves the memory traffic and is plenty for training (gradient *checks* need
# float64, notebook 02). Before training, the model knows nothing: its held-out score is
# about `log2 V`, and what it writes is noise. Evaluation reads the held-out text chunk by
# chunk, carrying the state, under `ll.no_grad()`: these forwards keep nothing for a
# backward.

# %%
def held_out_bits(model, ids):
    total, count, state = 0.0, 0, None
    with ll.no_grad():
        for x, y in bptt_batches(ids, batch_size=8, seq_len=T):
            logits, state = model.forward(x, state)
            loss, _ = ll.cross_entropy(logits, y)  # the mean over this chunk, in nats
            total, count = total + loss * y.size, count + y.size
    return ll.bits_per_char(total / count)


print(f"untrained: {held_out_bits(model, val_ids):.2f} bits/char held out")
prime = "Return the "
print(repr(prime + "".join(vocab.decode(ll.sample(model, vocab.encode(prime), 80, rng=0)))))

# %% [markdown]
# ## Training
#
# The loop is the lesson, so it stays in plain sight: forward a chunk from the carried
# state, score it, backward, clip the gradient's norm, step. Every so often, measure the
# held-out bits per character. `ll.Progress` keeps one line up to date while it runs.

# %%
opt = ll.Adam(model.params, model.grads, lr=3e-3)
evaluate_every = max(1, STEPS // 8)
train_bits, val_curve = [], ([0], [held_out_bits(model, val_ids)])
progress = ll.Progress(total=STEPS, desc="train")
start = time.perf_counter()
step, state = 0, None
while step < STEPS:
    for x, y in batches:  # one epoch
        if len(x) < T:
            continue  # the short last chunk: skip it and start the next epoch from zeros
        model.zero_grad()
        logits, state = model.forward(x, state)  # carry the state across chunks
        loss, dlogits = ll.cross_entropy(logits, y)
        model.backward(dlogits)
        ll.clip_grad_norm(model, 1.0)
        opt.step()
        step += 1
        train_bits.append(ll.bits_per_char(loss))
        if step % evaluate_every == 0 or step == STEPS:
            val_curve[0].append(step)
            val_curve[1].append(held_out_bits(model, val_ids))
        progress.update(bits=train_bits[-1], held_out=val_curve[1][-1])
        if step == STEPS:
            break
    state = None
progress.close()
print(f"{STEPS} steps in {time.perf_counter() - start:.0f} s; "
      f"held out: {val_curve[1][-1]:.2f} bits/char")

# %%
plot.learning_curves({"training chunk": train_bits, "held out": val_curve}, smooth=20,
                     baselines={"uniform": float(np.log2(V)), "letter frequencies": unigram_bits},
                     ylabel="bits per character", title="a character LSTM on docstrings")

# %% [markdown]
# The training curve is noisy (each point is one chunk) and the held-out curve is measured
# on text the model never trained on. Within a few hundred steps the model beats the letter
# frequencies by a wide margin: it has learned which letters follow which, then common
# words. (A long run of the example script reaches about 2.0 bits per character.)
#
# ## Writing: sampling with a temperature
#
# `ll.sample` reads a prime, then draws one character at a time from
# `softmax(logits / temperature)` and feeds it back in. A low temperature picks the likely
# characters (safe, repetitive), a high one flattens the distribution (inventive,
# misspelt).

# %%
for temperature in (0.5, 0.8, 1.2):
    ids = ll.sample(model, vocab.encode(prime), 200, temperature=temperature, rng=1)
    print(f"--- temperature {temperature}\n{prime}{''.join(vocab.decode(ids))}\n")

# %% [markdown]
# ## Looking inside: the gates over a passage
#
# As in notebook 01, step the trained cell by hand over a held-out passage and collect each
# step's gates (dark is closed, bright is open). Look down the columns at the spaces
# (`␣`): a few units close their forget gate there, emptying their cell at every word
# boundary, while most forget gates stay open and keep their cell's content across many
# characters. The output gates change the most from character to character.

# %%
passage = val_ids[:90]
cell = model.rnn.layers[0][0].cell  # layer 0, forward direction: an LSTMCell
with ll.no_grad():
    xs = model.embed.forward(passage[:, None])  # (T, 1, E)
state = cell.initial_state(1)
gates = {"input gate i": [], "forget gate f": [], "output gate o": []}
for t in range(len(passage)):
    state, cache = cell.forward(xs[t], state)
    for key, value in zip(gates, (cache.i, cache.f, cache.o)):
        gates[key].append(value[0])
plot.gate_heatmap({k: np.array(v) for k, v in gates.items()}, max_units=24,
                  labels=vocab.decode(passage), title="24 units of the trained LSTM")

# %% [markdown]
# **Where to go from here.** Save the model with its vocabulary in one file,
# `ll.save(model, "char_lm.npz", extra={"vocab": vocab.to_dict()})`, and read both back
# with `ll.load_extra` and `ll.load` ([docs/toolkit.md](../docs/toolkit.md)). Add
# `ll.Dropout` between the layers, try `ll.GRU` instead of `ll.LSTM`, or train on your own
# text. **Next:** [05 sequence to sequence](05_seq2seq.ipynb) uses two LSTMs, one to read and
# one to write.
