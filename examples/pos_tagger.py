"""A part-of-speech tagger: the PyTorch tutorial's LSTMTagger, then held-out sentences.

Part 1 is the model of PyTorch's "Sequence models and LSTM networks"
tutorial, written out with lstmlab: Embedding -> LSTM -> Linear ->
log-softmax, trained with the negative log-likelihood and plain SGD
(lr 0.1, 300 epochs, one sentence at a time) on the tutorial's two
sentences, "The dog ate the apple" (DET NN V DET NN) and "Everybody read
that book" (NN V DET NN). The backward of log-softmax is written out too::

    log_p = z - logsumexp(z)        dz = dlog_p - softmax(z) * sum(dlog_p)

Two sentences prove only that the model can memorise. Part 2 generates
sentences from a small template grammar in which some words are nouns in one
sentence and verbs in another ("they book the table" / "the old book";
"the dog saw a cat" / "my saw"), trains the same model on minibatches of padded
sentences (``lengths=`` tells the LSTM where each one ends; the padding id
has no gradient, ``ignore_index`` keeps it out of the loss) and measures the
per-token accuracy on held-out sentences that never occur in training,
next to the baseline that gives every word its most frequent training tag.

Run::

    python examples/pos_tagger.py           # full run
    python examples/pos_tagger.py --quick   # seconds, a smoke test

A full run on this 2-core machine (seed 0, defaults: 1000 training and 300
held-out sentences, E = 16, H = 32, 10 epochs of SGD with momentum; 6
seconds in all) printed::

    before training: 'The dog ate the apple' -> ['DET', 'DET', 'DET', 'DET', 'DET']
      ...
      epoch 300/300  mean NLL 0.0412
    after training:  'The dog ate the apple' -> ['DET', 'NN', 'V', 'DET', 'NN']
    ...
    held-out per-token accuracy over 2036 tokens: LSTM 100.00%, most-frequent-tag
    baseline 95.63%
      on the 262 tokens of noun/verb words ['book', 'fly', 'park', 'plant', 'saw',
      'watch']: LSTM 100.00%, baseline 66.03%
      every/DET small/ADJ saw/NN saw/V the/DET quiet/ADJ house/NN with/PREP my/DET ...

The held-out accuracy was 75.25% after the first epoch, 99.46% after the
second and 100% from the third on. A most-frequent-tag lookup is right on
95.6% of all tokens but only on 66% of the noun/verb words; the LSTM reads
the words before them (a determiner or adjective: noun; a subject: verb)
and gets every one right. This grammar is regular, so 100% is reachable;
real sentences are ambiguous in ways it is not.
"""

# %% Imports
import os

# One BLAS thread: the matrices are tiny, a second thread only adds hand-offs.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse
import time
from collections import Counter
from pathlib import Path

import numpy as np

import lstmlab as ll
from lstmlab import plot

TUTORIAL_DATA = [
    ("The dog ate the apple".split(), ["DET", "NN", "V", "DET", "NN"]),
    ("Everybody read that book".split(), ["NN", "V", "DET", "NN"]),
]


# %% The model: Embedding -> LSTM -> Linear -> log_softmax
class LSTMTagger(ll.Model):
    """ids (T, N) -> embeddings (T, N, E) -> LSTM (T, N, H) -> scores (T, N, K) -> log p."""

    def __init__(self, vocab_size, tagset_size, E, H, bidirectional=False, rng=None):
        rng = np.random.default_rng(rng)
        directions = 2 if bidirectional else 1
        super().__init__(embed=ll.Embedding(vocab_size, E, padding_idx=0, rng=rng),
                         lstm=ll.LSTM(E, H, bidirectional=bidirectional, rng=rng),
                         head=ll.Linear(directions * H, tagset_size, rng=rng))

    def forward(self, ids, lengths=None):
        x = self.embed.forward(ids)  # (T, N, E)
        hs, _ = self.lstm.forward(x, lengths=lengths)  # (T, N, dirs*H), zeros after each end
        z = self.head.forward(hs)  # (T, N, K) tag scores
        self.log_p = ll.log_softmax(z)  # kept: its backward needs softmax(z) = exp(log_p)
        return self.log_p

    def backward(self, dlog_p):
        # log_p = z - logsumexp(z), so dz = dlog_p - softmax(z) * sum over tags of dlog_p
        dz = dlog_p - np.exp(self.log_p) * dlog_p.sum(axis=-1, keepdims=True)
        dhs = self.head.backward(dz)
        dx, _ = self.lstm.backward(dhs)
        self.embed.backward(dx)


def encode(sentences, index):
    """Pad a list of token lists into a (T, N) int array (0 = padding) and their lengths."""
    lengths = np.array([len(s) for s in sentences])
    ids = np.zeros((lengths.max(), len(sentences)), dtype=np.int64)  # (T, N)
    for n, sentence in enumerate(sentences):
        ids[: len(sentence), n] = [index.get(w, 1) for w in sentence]  # 1 = unknown word
    return ids, lengths


def accuracy(model, sentences, tag_lists, word_index, tag_index):
    """Per-token accuracy (padding excluded) and the predicted tags as ids (T, N)."""
    ids, lengths = encode(sentences, word_index)
    targets, _ = encode(tag_lists, tag_index)
    with ll.no_grad():  # evaluation: keep no records for a backward
        predicted = model.forward(ids, lengths).argmax(axis=-1)  # (T, N)
    real = np.arange(ids.shape[0])[:, None] < lengths  # (T, N)
    return float(np.mean(predicted[real] == targets[real])), predicted


def make_index(items, reserved=()):
    """{item: id} in order of first appearance, after the reserved entries."""
    index = {name: k for k, name in enumerate(reserved)}
    for item in items:
        index.setdefault(item, len(index))
    return index


# %% Part 1: the tutorial's two sentences, one at a time, plain SGD
def tutorial(args, rng):
    words = make_index((w for s, _ in TUTORIAL_DATA for w in s), reserved=("<pad>", "<unk>"))
    tags = make_index(t for _, ts in TUTORIAL_DATA for t in ts)
    names = list(tags)
    model = LSTMTagger(len(words), len(tags), E=6, H=6, rng=rng)  # the tutorial's sizes
    opt = ll.SGD(model.params, model.grads, lr=0.1)
    sentence, truth = TUTORIAL_DATA[0]

    def tag(sentence):
        ids, lengths = encode([sentence], words)
        with ll.no_grad():
            return [names[k] for k in model.forward(ids, lengths)[:, 0].argmax(axis=1)]

    print(f"before training: {' '.join(sentence)!r} -> {tag(sentence)}")
    losses = []
    for epoch in range(1, args.tutorial_epochs + 1):
        total = 0.0
        for sentence_words, sentence_tags in TUTORIAL_DATA:
            ids, lengths = encode([sentence_words], words)
            targets, _ = encode([sentence_tags], tags)
            model.zero_grad()
            loss, dlog_p = ll.nll_loss(model.forward(ids, lengths), targets)
            model.backward(dlog_p)
            opt.step()
            total += loss
        losses.append(total / len(TUTORIAL_DATA))
        if epoch % max(1, args.tutorial_epochs // 5) == 0:
            print(f"  epoch {epoch:3d}/{args.tutorial_epochs}  mean NLL {losses[-1]:.4f}")
    predicted = tag(sentence)
    print(f"after training:  {' '.join(sentence)!r} -> {predicted}  (truth {truth})")
    both = [tag(s) == t for s, t in TUTORIAL_DATA]
    return {"losses": losses, "predicted": predicted, "correct": all(both)}


# %% Part 2: a template grammar with words that are nouns here and verbs there
LEXICON = {
    "DET": ["the", "a", "every", "that", "this", "my"],
    "ADJ": ["big", "small", "red", "old", "happy", "quick", "green", "quiet"],
    "NN": ["dog", "cat", "apple", "man", "woman", "child", "house", "table", "garden", "letter",
           "book", "saw", "fly", "watch", "park", "plant"],  # the last six are also verbs
    "V_PAST": ["ate", "read", "saw", "found", "liked", "wrote", "painted", "moved"],
    "V_PRES": ["book", "fly", "watch", "park", "plant", "like", "find", "move"],
    "PRON": ["they", "we", "you", "I"],
    "PREP": ["in", "on", "near", "under", "with", "behind"],
    "ADV": ["quickly", "slowly", "often", "today"],
}


def noun_phrase(rng):
    adjectives = [("ADJ", rng.choice(LEXICON["ADJ"])) for _ in range(rng.integers(0, 3))]
    return [("DET", rng.choice(LEXICON["DET"]))] + adjectives + [("NN", rng.choice(LEXICON["NN"]))]


def generate_sentence(rng):
    """(words, tags) from one of four templates; verbs of both tenses are tagged V."""
    kind = rng.integers(4)
    if kind == 0:  # NP V_PAST NP [PP]
        parts = noun_phrase(rng) + [("V", rng.choice(LEXICON["V_PAST"]))] + noun_phrase(rng)
    elif kind == 1:  # PRON V_PRES NP [PP]
        parts = [("PRON", rng.choice(LEXICON["PRON"])), ("V", rng.choice(LEXICON["V_PRES"]))]
        parts += noun_phrase(rng)
    elif kind == 2:  # NP V_PAST ADV
        parts = noun_phrase(rng) + [("V", rng.choice(LEXICON["V_PAST"])),
                                    ("ADV", rng.choice(LEXICON["ADV"]))]
    else:  # PRON V_PRES ADV
        parts = [("PRON", rng.choice(LEXICON["PRON"])), ("V", rng.choice(LEXICON["V_PRES"])),
                 ("ADV", rng.choice(LEXICON["ADV"]))]
    if kind < 2 and rng.random() < 0.5:
        parts += [("PREP", rng.choice(LEXICON["PREP"]))] + noun_phrase(rng)
    tags, words = zip(*parts)
    return list(map(str, words)), list(tags)


def grammar_data(n_train, n_test, rng):
    """Distinct training sentences, and held-out sentences that are not among them."""
    seen, train, test = set(), [], []
    while len(train) < n_train or len(test) < n_test:
        words, tags = generate_sentence(rng)
        key = " ".join(words)
        if key in seen:
            continue
        seen.add(key)
        (train if len(train) < n_train else test).append((words, tags))
    return train, test


def clock(seconds):
    return f"{int(seconds) // 60}:{int(seconds) % 60:02d}"


def grammar(args, rng):
    train, test = grammar_data(args.train_sentences, args.test_sentences, rng)
    words = make_index((w for s, _ in train for w in s), reserved=("<pad>", "<unk>"))
    tags = make_index(["<pad>"] + [t for _, ts in train for t in ts])  # id 0 is never a target
    print(f"{len(train)} training and {len(test)} held-out sentences, {len(words) - 2} words, "
          f"tags {list(tags)[1:]}; e.g. {' '.join(test[0][0])!r} -> {test[0][1]}")
    model = LSTMTagger(len(words), len(tags), args.embed, args.hidden, args.bidirectional, rng)
    opt = ll.SGD(model.params, model.grads, lr=args.lr, momentum=0.9)
    test_words, test_tags = [s for s, _ in test], [t for _, t in test]
    curve, losses = [], []
    start = time.perf_counter()
    for epoch in range(1, args.epochs + 1):
        order = rng.permutation(len(train))
        total = 0.0
        for s in range(0, len(train), args.batch):
            batch = [train[k] for k in order[s : s + args.batch]]
            ids, lengths = encode([b[0] for b in batch], words)
            targets, _ = encode([b[1] for b in batch], tags)  # padding -> 0, ignored below
            model.zero_grad()
            loss, dlog_p = ll.nll_loss(model.forward(ids, lengths), targets, ignore_index=0)
            model.backward(dlog_p)
            ll.clip_grad_norm(model.grads, 5.0)
            opt.step()
            total += loss * len(batch)
        losses.append(total / len(train))
        test_acc, _ = accuracy(model, test_words, test_tags, words, tags)
        curve.append(test_acc)
        if epoch % max(1, args.epochs // 10) == 0 or epoch == args.epochs:
            elapsed = time.perf_counter() - start
            eta = elapsed / epoch * (args.epochs - epoch)
            print(f"  epoch {epoch:3d}/{args.epochs}  train NLL {losses[-1]:.4f}  held-out "
                  f"token accuracy {100 * test_acc:.2f}%  elapsed {clock(elapsed)}  "
                  f"eta {clock(eta)}", flush=True)
    seconds = time.perf_counter() - start

    # the baseline: each word's most frequent tag in training (unknown words: the most common tag)
    counts = {}
    for s, ts in train:
        for w, t in zip(s, ts):
            counts.setdefault(w, Counter())[t] += 1
    common = Counter(t for _, ts in train for t in ts).most_common(1)[0][0]
    guess = {w: c.most_common(1)[0][0] for w, c in counts.items()}
    pairs = [(w, t) for s, ts in test for w, t in zip(s, ts)]
    baseline = float(np.mean([guess.get(w, common) == t for w, t in pairs]))

    # accuracy on the words that are nouns in some sentences and verbs in others
    acc, predicted = accuracy(model, test_words, test_tags, words, tags)
    names = list(tags)
    ambiguous = set(LEXICON["NN"]) & set(LEXICON["V_PAST"] + LEXICON["V_PRES"])
    amb_model, amb_base = [], []
    for n, (s, ts) in enumerate(test):
        for t, (w, tag) in enumerate(zip(s, ts)):
            if w in ambiguous:
                amb_model.append(names[predicted[t, n]] == tag)
                amb_base.append(guess.get(w, common) == tag)
    result = {"accuracy": acc, "baseline_accuracy": baseline,
              "ambiguous_accuracy": float(np.mean(amb_model)),
              "ambiguous_baseline": float(np.mean(amb_base)), "ambiguous_tokens": len(amb_model),
              "test_tokens": len(pairs), "seconds": seconds, "curve": curve, "losses": losses}
    print(f"\nheld-out per-token accuracy over {len(pairs)} tokens: LSTM {100 * acc:.2f}%, "
          f"most-frequent-tag baseline {100 * baseline:.2f}%")
    print(f"  on the {len(amb_model)} tokens of noun/verb words {sorted(ambiguous)}: "
          f"LSTM {100 * result['ambiguous_accuracy']:.2f}%, "
          f"baseline {100 * result['ambiguous_baseline']:.2f}%")
    for s, ts in test[:3]:
        ids, lengths = encode([s], words)
        with ll.no_grad():
            pred = [names[k] for k in model.forward(ids, lengths)[:, 0].argmax(axis=1)]
        marks = " ".join(f"{w}/{p}" + ("" if p == t else f"(!{t})") for w, p, t in zip(s, pred, ts))
        print(f"  {marks}")
    return result


# %% Main
def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tutorial-epochs", type=int, default=300)
    parser.add_argument("--train-sentences", type=int, default=1000)
    parser.add_argument("--test-sentences", type=int, default=300)
    parser.add_argument("--embed", type=int, default=16, help="embedding size E")
    parser.add_argument("--hidden", type=int, default=32, help="hidden size H")
    parser.add_argument("--bidirectional", action="store_true",
                        help="also read each sentence right to left")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--lr", type=float, default=0.1, help="SGD learning rate (momentum 0.9)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="out/pos_tagger", help="directory for figures")
    parser.add_argument("--quick", action="store_true", help="a few seconds: fewer epochs")
    args = parser.parse_args(argv)
    if args.quick:
        args.tutorial_epochs, args.epochs = 30, 2
        args.train_sentences, args.test_sentences = 100, 30
    rng = np.random.default_rng(args.seed)
    start = time.perf_counter()

    print("Part 1: the tutorial's two sentences (E = H = 6, SGD lr 0.1)")
    part1 = tutorial(args, rng)
    print("\nPart 2: a template grammar, held-out sentences")
    part2 = grammar(args, rng)

    out = Path(args.out)
    figure = out / "pos_tagger.png"
    plot.learning_curves({"part 2: held-out token accuracy": part2["curve"]},
                         baselines={"most-frequent-tag baseline": part2["baseline_accuracy"]},
                         xlabel="epoch", ylabel="accuracy", path=figure,
                         title="POS tagger on held-out sentences")
    minutes = (time.perf_counter() - start) / 60
    print(f"total {minutes:.1f} min; figure: {figure}")
    return {"tutorial_correct": part1["correct"], "tutorial_final_loss": part1["losses"][-1],
            "accuracy": part2["accuracy"], "baseline_accuracy": part2["baseline_accuracy"],
            "ambiguous_accuracy": part2["ambiguous_accuracy"],
            "ambiguous_baseline": part2["ambiguous_baseline"], "minutes": minutes,
            "figures": [str(figure)]}


if __name__ == "__main__":
    main()
