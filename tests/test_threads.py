"""One model per thread: two threads with their own models give bit-identical results, and
the no_grad / detect_anomaly switches belong to the thread (and asyncio task) that sets them."""

import asyncio
import threading

import numpy as np

import lstmlab as ll


def train(results, key, steps=5, barrier=None):
    """A few Adam steps of a small model built from the same seed; keep everything it made."""
    model = ll.Model(rnn=ll.LSTM(3, 8, num_layers=2, dropout=0.3, rng=0),
                     head=ll.Linear(8, 4, rng=1))
    opt = ll.Adam(model.params, model.grads, lr=1e-2)
    rng = np.random.default_rng(2)
    x, targets = rng.standard_normal((12, 5, 3)), rng.integers(0, 4, (12, 5))
    if barrier is not None:
        barrier.wait()  # start together, so the threads really interleave
    losses = []
    for _ in range(steps):
        model.zero_grad()
        hs, _ = model.rnn.forward(x)
        loss, dlogits = ll.cross_entropy(model.head.forward(hs), targets)
        dx, _ = model.rnn.backward(model.head.backward(dlogits))
        opt.step()
        losses.append(loss)
    results[key] = (np.array(losses), dx, {k: p.copy() for k, p in model.params.items()})


def test_two_threads_with_their_own_models_are_bit_identical():
    alone = {}
    train(alone, "ref")
    results, barrier = {}, threading.Barrier(2)
    threads = [threading.Thread(target=train, args=(results, k, 5, barrier)) for k in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for key in (0, 1):
        losses, dx, params = results[key]
        assert np.array_equal(losses, alone["ref"][0])
        assert np.array_equal(dx, alone["ref"][1])
        for k in params:
            assert np.array_equal(params[k], alone["ref"][2][k]), k


def test_no_grad_in_one_thread_does_not_switch_another():
    seen, inside, release = {}, threading.Event(), threading.Event()

    def evaluating():
        with ll.no_grad(), ll.detect_anomaly():
            inside.set()
            release.wait(5)
            seen["evaluating"] = (ll.is_grad_enabled(), ll.is_anomaly_enabled())

    def training():
        inside.wait(5)
        seen["training"] = (ll.is_grad_enabled(), ll.is_anomaly_enabled())
        lin = ll.Linear(2, 2, rng=0)
        y = lin.forward(np.ones((1, 2)))
        lin.backward(np.ones_like(y))  # its forward was recorded
        seen["recorded"] = True
        release.set()

    threads = [threading.Thread(target=evaluating), threading.Thread(target=training)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert seen == {"evaluating": (False, True), "training": (True, False), "recorded": True}


def test_no_grad_in_one_asyncio_task_does_not_switch_another():
    async def evaluating(started, done):
        with ll.no_grad():
            started.set()
            await done.wait()
            return ll.is_grad_enabled()

    async def training(started, done):
        await started.wait()
        enabled = ll.is_grad_enabled()
        done.set()
        return enabled

    async def main():
        started, done = asyncio.Event(), asyncio.Event()
        return await asyncio.gather(evaluating(started, done), training(started, done))

    assert asyncio.run(main()) == [False, True]
