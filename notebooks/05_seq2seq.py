# %% [markdown]
# # 05 · Sequence to sequence: an encoder-decoder, greedy decoding, and attention
#
# **Learning path:** [01 one cell by hand](01_lstm_cell_by_hand.ipynb) → [02 backpropagation
# through time and the gradient check](02_bptt_and_gradient_check.ipynb) → [03 vanishing and
# exploding gradients](03_vanishing_exploding_gradients.ipynb) → [04 a character language
# model](04_char_language_model.ipynb) → **05 sequence to sequence**
#
# When the input and the output are sequences of different lengths, one LSTM (the
# **encoder**) reads the input into its final state `(h, c)`, and a second LSTM (the
# **decoder**) starts from that state and writes the output one token at a time
# (Sutskever, Vinyals & Le, 2014). The task here is small enough to train in seconds and
# easy to check by eye: **reverse a string**, `"cabbage" -> "egabbac"`.
#
# You will train the plain encoder-decoder with teacher forcing, decode with
# `ll.greedy_decode`, see its accuracy fall as the strings get longer (everything must pass
# through one fixed-size state), and then add **attention** (Luong et al., 2015), which lets
# every output step look back at every input step, and look at where it looks.
#
# The derivations: [docs/attention.md](../docs/attention.md) (attention's forward and
# backward, the encoder-decoder, greedy and beam-search decoding) and
# [docs/bptt.md](../docs/bptt.md) (lengths and padding). The model is
# [lstmlab/seq2seq.py](../lstmlab/seq2seq.py); the longer examples are
# [examples/seq2seq_addition.py](../examples/seq2seq_addition.py) and
# [examples/date_format.py](../examples/date_format.py).

# %%
import os

# Small matrices: one BLAS thread is faster, and on a busy machine extra BLAS threads
# that spin waiting for a core slow everything down. Set before NumPy is imported.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import time

import numpy as np

import lstmlab as ll
from lstmlab import plot
from lstmlab.data import Vocab, pad_sequences

plot.check_matplotlib()  # the figures need matplotlib: if it is missing, say so now

QUICK = os.environ.get("LSTMLAB_QUICK", "") not in ("", "0")  # the test suite's smoke run
MIN_LEN, MAX_LEN = 3, (6 if QUICK else 14)  # string lengths
E, H = (8, 16) if QUICK else (16, 64)  # embedding and hidden sizes
BATCH, STEPS = 64, (40 if QUICK else 1500)
rng = np.random.default_rng(0)

# %% [markdown]
# ## Data: strings, ids, padding
#
# One vocabulary serves both sides: ten letters and three special tokens. `<pad>` fills the
# end of shorter strings, `<go>` is the decoder's first input, `<end>` its last output.

# %%
LETTERS = "abcdefghij"
vocab = Vocab(LETTERS, specials=("<pad>", "<go>", "<end>"))
PAD, GO, END = vocab["<pad>"], vocab["<go>"], vocab["<end>"]
V = len(vocab)
print(V, vocab.tokens)


def random_strings(n, rng):
    lengths = rng.integers(MIN_LEN, MAX_LEN + 1, size=n)
    return ["".join(rng.choice(list(LETTERS), size=k)) for k in lengths]


test_strings = random_strings(1000, np.random.default_rng(123))  # held out, never trained on
held_out = set(test_strings)

# %% [markdown]
# A batch has three parts, all time-major (T, N) and padded with `<pad>`:
#
# - `src`, the strings, with their `lengths` (so the encoder's final state is taken after
#   each string's own last letter, not after the padding);
# - `dec_in`, what the decoder reads: `<go>` followed by the **true** answer ("teacher
#   forcing": during training the decoder always sees the right previous letter);
# - `target`, what it must predict at each step: the answer followed by `<end>`.

# %%
def make_batch(strings):
    src, lengths = pad_sequences([vocab.encode(s) for s in strings], pad_value=PAD)
    answers = [vocab.encode(s[::-1]) for s in strings]
    dec_in, _ = pad_sequences([np.concatenate([[GO], a]) for a in answers], pad_value=PAD)
    target, _ = pad_sequences([np.concatenate([a, [END]]) for a in answers], pad_value=PAD)
    return src, lengths, dec_in, target


src, lengths, dec_in, target = make_batch(["abc", "jihgf"])
print("src\n", src, "\nlengths", lengths, "\ndec_in\n", dec_in, "\ntarget\n", target)

# %% [markdown]
# ## The model
#
# `ll.Seq2Seq` is four parts and a head: an embedding and an LSTM for each side, and a
# `Linear` layer that turns each decoder state into scores for the next token:
#
# ```text
# keys, (h, c) = encoder(src_embed(src), lengths)      read the string
# hs, _        = decoder(tgt_embed(dec_in), (h, c))    start from the encoder's final state
# logits       = head(hs)                              (T_out, N, V)
# ```
#
# The backward runs the same parts in reverse. The only bridge between the two LSTMs is the
# state, so the gradient reaches the encoder through `dstate0`, the gradient of the
# decoder's initial state, which is exactly the gradient of the encoder's final state.

# %%
def train(attention, steps=STEPS, seed=0):
    model = ll.Seq2Seq(V, V, embed_size=E, hidden_size=H, attention=attention,
                       padding_idx=PAD, dtype=np.float32, rng=seed)
    opt = ll.Adam(model.params, model.grads, lr=5e-3)
    batch_rng = np.random.default_rng(seed)
    losses = []
    progress = ll.Progress(total=steps, desc=f"attention={attention}")
    for _ in range(steps):
        strings = [s for s in random_strings(BATCH, batch_rng) if s not in held_out]
        src, lengths, dec_in, target = make_batch(strings)
        model.zero_grad()
        logits = model.forward(src, lengths, dec_in)  # teacher forcing: (T_out, N, V)
        loss, dlogits = ll.cross_entropy(logits, target, ignore_index=PAD)  # skip padding
        model.backward(dlogits)
        ll.clip_grad_norm(model, 1.0)
        opt.step()
        losses.append(loss)
        progress.update(loss=loss)
    progress.close()
    return model, np.array(losses)


start = time.perf_counter()
plain, plain_losses = train(attention=None)
print(f"trained in {time.perf_counter() - start:.0f} s")
print(plain.summary())

# %% [markdown]
# ## Greedy decoding
#
# At test time there is no true answer to feed. The decoder reads `<go>`, the most likely
# token is taken and fed back in, and so on until `<end>`. `ll.greedy_decode` does this for
# a whole batch at once with any model whose `decode(ids, state)` returns
# `(logits, state)`; `model.encode` gives the first state. Both are evaluation forwards, so
# they run under `ll.no_grad()` and keep nothing for a backward.

# %%
def reverse(model, strings):
    src, lengths, _, _ = make_batch(strings)
    with ll.no_grad():
        state = model.encode(src, lengths)
        ids = ll.greedy_decode(model.decode, state, start_id=GO, length=MAX_LEN + 1, end_id=END)
    outputs = []
    for column in ids.T:  # one example per column
        column = column.tolist()
        column = column[:column.index(END)] if END in column else column
        outputs.append("".join(vocab.decode(column)))
    return outputs


def accuracy_by_length(model):
    outputs = reverse(model, test_strings)
    right = np.array([out == s[::-1] for s, out in zip(test_strings, outputs)])
    sizes = np.array([len(s) for s in test_strings])
    by_length = {k: right[sizes == k].mean() for k in range(MIN_LEN, MAX_LEN + 1)}
    return right.mean(), by_length


for s, out in zip(test_strings[:6], reverse(plain, test_strings[:6])):
    print(f"{s:>{MAX_LEN}} -> {out:{MAX_LEN}} {'right' if out == s[::-1] else 'WRONG'}")
plain_acc, plain_by_length = accuracy_by_length(plain)
print(f"exact match on {len(test_strings)} held-out strings: {plain_acc:.1%}")

# %% [markdown]
# "Exact match" counts a string as right only if every letter and the `<end>` are right.
# Short strings are easy; the longer the string, the more the one state `(h, c)` of H
# numbers has to hold, and the more often one letter goes wrong.
#
# ## Attention: every output step reads every input step
#
# With attention, the decoder's state at output step t is a **query**; it is scored
# against each encoder output (the **keys**), the scores go through a softmax over the
# input steps (padding masked out), and the weighted mean of the encoder outputs, the
# **context**, is fed to the head next to the decoder state:
#
# ```text
# score_tj = h_t W k_j               ("general" score)
# a_t      = softmax_j(score_tj)     weights over the input steps, summing to 1
# context  = sum_j a_tj k_j
# logits   = [context, h_t] W_out + b
# ```
#
# Same data, same steps, same seed; only `attention="general"` changes:

# %%
start = time.perf_counter()
attn, attn_losses = train(attention="general")
print(f"trained in {time.perf_counter() - start:.0f} s")
attn_acc, attn_by_length = accuracy_by_length(attn)
print(f"exact match on {len(test_strings)} held-out strings: {attn_acc:.1%} "
      f"(without attention: {plain_acc:.1%})")

# %%
plot.learning_curves({"encoder-decoder": plain_losses, "with attention": attn_losses},
                     smooth=25, logy=True, ylabel="cross-entropy per token",
                     title="training loss (teacher forcing)")

# %%
fig = plot.figure((6, 3.5))
ax = fig.add_subplot()
for label, by_length in [("encoder-decoder", plain_by_length), ("with attention", attn_by_length)]:
    ax.plot(list(by_length), list(by_length.values()), "o-", label=label)
ax.set(xlabel="string length", ylabel="held-out exact match", ylim=(0, 1.02),
       title="reversing strings: accuracy by length")
ax.grid(alpha=0.3)
ax.legend()
fig

# %% [markdown]
# ## Where does it look?
#
# `model.attention_weights(src, lengths, dec_in)` returns the weights `a_tj` for each
# output step t and input step j. To reverse a string, output letter t must be input letter
# `L - 1 - t`: the weights should sit on the anti-diagonal.

# %%
examples = [s for s in test_strings if len(s) == MAX_LEN][:2] + [test_strings[0]]
src, lengths, dec_in, _ = make_batch(examples)
weights = attn.attention_weights(src, lengths, dec_in)  # (T_out, N, T_in)
fig = plot.figure((9, 3.2))
axes = fig.subplots(1, len(examples))
for n, (ax, s) in enumerate(zip(axes, examples)):
    image = ax.imshow(weights[:len(s) + 1, n, :len(s)], cmap="viridis", vmin=0, vmax=1)
    ax.set_xticks(range(len(s)), list(s))
    ax.set_yticks(range(len(s) + 1), list(s[::-1]) + ["<end>"])
    ax.set(xlabel="input (read)", ylabel="output (written)" if n == 0 else None, title=repr(s))
    ax.title.set_fontsize(9)
fig.colorbar(image, ax=list(axes), shrink=0.8, label="attention weight")
fig

# %% [markdown]
# Each row (an output letter) puts nearly all its weight on one input letter, the one it
# copies, and the rows walk backwards through the input. The model was never told to do
# this; the anti-diagonal is what made the loss go down. (Where a letter repeats, the weight
# may spread over the copies: any of them gives the right letter.) The attention's backward, node by
# node, is in [docs/attention.md](../docs/attention.md#backward-node-by-node), and
# `ll.check_layer` checks it numerically like every other part (notebook 02).
#
# **Try it:** make `MAX_LEN` larger (20, 30) and compare the two models again; use
# `ll.beam_search(model.decode, state, start_id=GO, length=..., beam_width=4, end_id=END)`
# instead of greedy decoding ([docs/attention.md](../docs/attention.md#decoding)).
#
# This is the end of the learning path. From here: the examples in
# [examples/](../examples/) train bigger models on real data, and [docs/](../docs/index.md)
# derives every forward and backward you met.
