"""ReportToStore in a tiny real Keras fit: batch losses into the store, the whole-run ETA."""

import numpy as np
import pytest

from core.runs import live
from core.runs.config import RunConfig
from core.runs.store import Store
from core.train.callbacks import ReportToStore


class CountingStore(Store):
    def __init__(self, home):
        super().__init__(home)
        self.batch_writes = 0

    def add_batches(self, run_id, records, cap=live.MAX_BATCH_RECORDS):
        self.batch_writes += 1
        super().add_batches(run_id, records, cap)


def _tiny_fit(store, run_id, every, timings=(), epochs=2):
    """38 samples in batches of 8 (the last one of 6), learning rate 0: the weights never
    move, so each batch's true loss can be computed afterwards."""
    import keras

    keras.utils.set_random_seed(0)
    x = np.random.default_rng(0).normal(size=(38, 4)).astype("float32")
    y = (x[:, 0] > 0).astype("float32").reshape(-1, 1)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer=keras.optimizers.SGD(0.0), loss="binary_crossentropy")
    reporter = ReportToStore(
        store,
        run_id,
        "head",
        0,
        len(timings) or 1,
        0,
        epochs,
        steps=5,
        batch_every_seconds=every,
        timings=timings,
        batch_size=8,
        images=38,
    )
    model.fit(x, y, batch_size=8, epochs=epochs, shuffle=False, verbose=0, callbacks=[reporter])
    true = [float(model.evaluate(x[k : k + 8], y[k : k + 8], verbose=0)) for k in range(0, 38, 8)]
    return true


def test_the_callback_stores_each_batchs_own_loss(tmp_path):
    store = CountingStore(tmp_path / "home")
    run = store.create(RunConfig(dataset=str(tmp_path), weights="none"))
    true = _tiny_fit(store, run.id, every=3600.0)  # throttled: one write per epoch
    kept = store.batch_history(run.id)
    assert [(b.epoch, b.step) for b in kept] == [(e, s) for e in (1, 2) for s in range(1, 6)]
    # Keras logs the mean since the epoch began; the store holds each batch's own loss
    assert [b.loss for b in kept[:5]] == pytest.approx(true, rel=1e-4)
    assert [b.loss for b in kept[5:]] == pytest.approx(true, rel=1e-4)
    assert [b.position for b in kept[:5]] == pytest.approx([0.2, 0.4, 0.6, 0.8, 1.0])
    # every batch kept, yet written only at the first batch (shown at once) and epoch ends
    assert store.batch_writes == 3


def test_the_progress_carries_the_whole_runs_eta(tmp_path):
    store = Store(tmp_path / "home")
    run = store.create(RunConfig(dataset=str(tmp_path), weights="none"))
    later = live.PhaseTiming(epochs=3, steps=5, validation_steps=1, modelled_batch_seconds=10.0)
    this = live.PhaseTiming(epochs=2, steps=5, validation_steps=1, modelled_batch_seconds=99.0)
    seen = []
    update = store.update

    def spy(run_id, **fields):
        if "progress" in fields:
            seen.append(fields["progress"])
        update(run_id, **fields)

    store.update = spy
    _tiny_fit(store, run.id, every=0.0, timings=(this, later))
    first, last = seen[0], seen[-1]
    modelled_later = 3 * (5 * 10.0 + 10.0 / 3)
    # before anything is measured: this phase's model (99 s a batch) and the later phase's
    assert first.run_eta_seconds == pytest.approx(2 * (5 * 99 + 33) + modelled_later)
    assert first.run_eta_measured is False
    # at the last batch: this phase measured (a tiny model: well under a second a batch),
    # the later phase still the model's
    assert (last.epoch, last.step) == (2, 5)
    assert modelled_later <= last.run_eta_seconds < modelled_later + 5
    assert last.run_eta_measured is False
