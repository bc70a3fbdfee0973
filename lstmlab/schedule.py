"""Learning-rate schedules: the optimizer's lr as a function of the epoch.

A schedule changes ``optimizer.lr`` between epochs; the optimizer itself only
reads it. Call ``schedule.step()`` once per epoch, after that epoch's
optimizer steps, as with PyTorch's schedulers::

    opt = ll.Adam(model.params, model.grads, lr=1e-2)
    schedule = ll.CosineLR(opt, T_max=epochs)
    for epoch in range(epochs):
        ...one epoch of opt.step()...
        schedule.step()
"""

from __future__ import annotations

import math

from .checks import check_positive_int, check_range

__all__ = ["LRSchedule", "StepLR", "CosineLR"]


class LRSchedule:
    """Base class of learning-rate schedules: set ``optimizer.lr`` from the epoch.

    Call ``step()`` once per epoch, after the epoch's optimizer steps, as with
    PyTorch's schedulers. The lr is a closed-form function of the epoch
    (:meth:`lr_at`) and of ``base_lr``, the optimizer's lr when the schedule
    was created. To resume at epoch e: create the optimizer and the schedule
    as at the start, load the checkpoint, then ``schedule.set_epoch(e)``.
    """

    def __init__(self, optimizer):
        if not hasattr(optimizer, "lr"):
            raise TypeError(f"optimizer: expected an object with an lr, got {optimizer!r}")
        self.optimizer = optimizer
        self.base_lr = optimizer.lr
        self.epoch = 0

    def lr_at(self, epoch):
        """The learning rate of epoch ``epoch`` (0 = the start)."""
        raise NotImplementedError

    def set_epoch(self, epoch):
        """Jump to ``epoch`` and set the optimizer's lr; return it."""
        self.epoch = check_positive_int("epoch", epoch, minimum=0)
        self.optimizer.lr = self.lr_at(self.epoch)
        return self.optimizer.lr

    def step(self):
        """Advance one epoch and set the optimizer's lr; return it."""
        return self.set_epoch(self.epoch + 1)


class StepLR(LRSchedule):
    """Multiply the learning rate by ``gamma`` every ``step_size`` epochs.

    ::

        lr(epoch) = base_lr * gamma ^ floor(epoch / step_size)

    As PyTorch's ``torch.optim.lr_scheduler.StepLR``.

    Examples
    --------
    >>> import numpy as np
    >>> from lstmlab import SGD
    >>> opt = SGD({"w": np.zeros(1)}, {"w": np.zeros(1)}, lr=1.0)
    >>> sched = StepLR(opt, step_size=2, gamma=0.5)
    >>> [sched.step() for _ in range(5)]
    [1.0, 0.5, 0.5, 0.25, 0.25]
    """

    def __init__(self, optimizer, step_size, gamma=0.1):
        self.step_size = check_positive_int("step_size", step_size)
        self.gamma = check_range("gamma", gamma)
        super().__init__(optimizer)

    def lr_at(self, epoch):
        return self.base_lr * self.gamma ** (epoch // self.step_size)


class CosineLR(LRSchedule):
    """Cosine annealing from ``base_lr`` down to ``eta_min`` over ``T_max`` epochs.

    ::

        lr(epoch) = eta_min + (base_lr - eta_min) * (1 + cos(pi * epoch / T_max)) / 2

    Smooth: large steps at first, small steps near the end (Loshchilov &
    Hutter, 2017). As PyTorch's ``CosineAnnealingLR``, the formula goes on
    after T_max, so the lr rises again; set T_max to the number of epochs.

    Examples
    --------
    >>> import numpy as np
    >>> from lstmlab import SGD
    >>> opt = SGD({"w": np.zeros(1)}, {"w": np.zeros(1)}, lr=1.0)
    >>> sched = CosineLR(opt, T_max=4)
    >>> [round(sched.step(), 6) for _ in range(4)]
    [0.853553, 0.5, 0.146447, 0.0]
    """

    def __init__(self, optimizer, T_max, eta_min=0.0):
        self.T_max = check_positive_int("T_max", T_max)
        self.eta_min = check_range("eta_min", eta_min)
        super().__init__(optimizer)

    def lr_at(self, epoch):
        cosine = (1 + math.cos(math.pi * epoch / self.T_max)) / 2
        return self.eta_min + (self.base_lr - self.eta_min) * cosine
