import numpy as np

import lstmlab as ll


class CharLM(ll.Model):
    def __init__(self, V, E, H, num_layers, dropout, rng):
        super().__init__(embed=ll.Embedding(V, E, rng=rng),
                         rnn=ll.LSTM(E, H, num_layers=num_layers, dropout=dropout, rng=rng),
                         head=ll.Linear(H, V, rng=rng))

    def forward(self, ids):
        return self.head.forward(self.rnn.forward(self.embed.forward(ids))[0])

    def backward(self, dlogits):
        self.embed.backward(self.rnn.backward(self.head.backward(dlogits))[0])


def setup(seed, dropout=0.3):
    """Everything random -- weights, dropout masks, data -- comes from the one seed."""
    rng = np.random.default_rng(seed)
    model = CharLM(V=7, E=4, H=6, num_layers=2, dropout=dropout, rng=rng)
    opt = ll.Adam(model.params, model.grads, lr=0.02)
    return model, opt, rng


def train(model, opt, rng, steps, sched=None):
    losses = []
    for _ in range(steps):
        ids = rng.integers(0, 7, size=(6, 3))  # (T, N)
        targets = np.roll(ids, -1, axis=0)
        model.zero_grad()
        loss, dlogits = ll.cross_entropy(model.forward(ids), targets)
        model.backward(dlogits)
        ll.clip_grad_norm(model.grads, 1.0)
        opt.step()
        if sched is not None:
            sched.step()
        losses.append(loss)
    return losses


def test_same_seed_bit_identical_losses_and_weights():
    runs = []
    for _ in range(2):
        model, opt, rng = setup(seed=123)
        losses = train(model, opt, rng, steps=12, sched=ll.CosineLR(opt, T_max=12))
        runs.append((losses, {k: p.tobytes() for k, p in model.params.items()}))
    assert runs[0][0] == runs[1][0]  # exact float equality, every step
    assert runs[0][1] == runs[1][1]
    assert len(set(runs[0][0])) == 12  # the losses do change from step to step


def test_another_seed_gives_another_run():
    a = train(*setup(seed=1), steps=3)
    b = train(*setup(seed=2), steps=3)
    assert a != b


def test_checkpoint_resume_is_bit_identical(tmp_path):
    # without dropout: the checkpoint holds weights and optimizer state, not generators
    model, opt, rng = setup(seed=7, dropout=0.0)
    first = train(model, opt, rng, steps=4)
    ll.save(model, tmp_path / "ckpt.npz", optimizer=opt)
    rng_state = rng.bit_generator.state
    straight_on = train(model, opt, rng, steps=4)

    model2, opt2, rng2 = setup(seed=99, dropout=0.0)
    ll.load(model2, tmp_path / "ckpt.npz", optimizer=opt2)
    rng2.bit_generator.state = rng_state  # the data stream continues where it stopped
    resumed = train(model2, opt2, rng2, steps=4)
    assert resumed == straight_on
    assert first[-1] != straight_on[0]
