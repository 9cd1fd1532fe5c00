"""The numbers of the live view: batch losses kept, smoothing, the whole-run ETA."""

import dataclasses

import pytest

from core.model import vgg16
from core.reports import report
from core.runs import live
from core.runs.results import Progress
from core.runs.speed import Speed


@pytest.mark.parametrize(
    "batches, stride", [(0, 1), (2000, 1), (2001, 2), (4001, 2), (4002, 4), (10**6, 512)]
)
def test_batch_stride_is_the_smallest_power_of_two_within_the_cap(batches, stride):
    assert live.batch_stride(batches, cap=2000) == stride


def test_kept_batches_never_exceed_the_cap_and_stay_evenly_spaced():
    cap = 100
    for batches in (1, 99, 100, 101, 555, 12345):
        stride = live.batch_stride(batches, cap)
        kept = [n for n in range(1, batches + 1) if n % stride == 0]
        assert len(kept) <= cap
        assert len(kept) >= cap // 2 or stride == 1  # never thinned more than needed
        assert all(b - a == stride for a, b in zip(kept, kept[1:], strict=False))


def test_batch_loss_is_recovered_from_keras_running_mean():
    losses, sizes = [2.0, 1.0, 0.5, 3.0], [8, 8, 8, 4]  # a smaller last batch
    seen, total, recovered = 0, 0.0, []
    mean_before = 0.0
    for loss, size in zip(losses, sizes, strict=True):
        before = seen
        seen, total = seen + size, total + loss * size
        mean = total / seen  # what Keras logs: the mean so far, weighted by batch size
        recovered.append(live.batch_loss(mean, seen, mean_before, before))
        mean_before = mean
    assert recovered == pytest.approx(losses)
    assert live.batch_loss(0.1, 16, 0.2, 8) == 0.0  # rounding below zero is clipped


def test_smoothing_is_a_bias_corrected_ema():
    assert live.smoothed([4.0, 4.0, 4.0]) == pytest.approx([4.0, 4.0, 4.0])  # no pull to 0
    out = live.smoothed([1.0, 3.0], beta=0.5)
    assert out == pytest.approx([1.0, (0.25 * 1 + 0.5 * 3) / 0.75])
    noisy = [1.0 + (-1) ** k * 0.5 for k in range(50)]
    calm = live.smoothed(noisy)
    assert max(calm[10:]) - min(calm[10:]) < 0.2 < max(noisy) - min(noisy)
    assert live.smoothed([]) == []


HEAD = live.PhaseTiming(epochs=4, steps=10, validation_steps=3, modelled_batch_seconds=9.0)
FINETUNE = live.PhaseTiming(
    epochs=2, steps=10, validation_steps=3, modelled_batch_seconds=2.0, setup_seconds=30.0
)


def test_eta_counts_every_phase_left_measured_or_modelled():
    # phase 1 measured (0.1 s a batch, 0.5 s validation), in its 2nd epoch after 4 batches
    head = dataclasses.replace(HEAD, epochs_done=1, batch_seconds=0.1, validation_seconds=0.5)
    eta = live.run_eta([head, FINETUNE], current=0, step=4)
    this_epoch = 6 * 0.1 + 0.5
    later_epochs = 2 * (10 * 0.1 + 0.5)
    finetune = 30.0 + 2 * (10 * 2.0 + 3 * 2.0 / 3)  # setup + modelled epochs with validation
    assert eta.seconds == pytest.approx(this_epoch + later_epochs + finetune)
    assert not eta.measured  # the fine-tuning phase is the model's guess so far


def test_eta_of_the_second_phase_ignores_the_finished_first():
    done = dataclasses.replace(HEAD, epochs_done=4, batch_seconds=0.1, validation_seconds=0.5)
    running = dataclasses.replace(FINETUNE, epochs_done=1, batch_seconds=1.5)
    eta = live.run_eta([done, running], current=1, step=10)
    assert eta.seconds == pytest.approx(3 * 1.5 / 3)  # only this epoch's validation is left
    assert eta.measured
    assert live.run_eta([done, running], current=1, step=0).seconds == pytest.approx(10 * 1.5 + 1.5)
    # before its first batches are timed, the phase's modelled cost stands in (not measured)
    fresh = live.run_eta([done, FINETUNE], current=1, step=0)
    assert fresh.seconds == pytest.approx(2 * (10 * 2.0 + 2.0)) and not fresh.measured


def test_fine_tuning_costs_more_per_batch_than_the_head_on_features():
    speed = Speed(20.0, 150, "float32", "bench")
    head = live.modelled_batch_seconds(32, 150, 0, True, speed)
    top_block = live.modelled_batch_seconds(32, 150, 1, True, speed)
    everything = live.modelled_batch_seconds(32, 150, 5, False, speed)
    assert head == pytest.approx(live.BATCH_OVERHEAD_SECONDS)
    assert head < top_block < everything
    assert everything == pytest.approx(live.BATCH_OVERHEAD_SECONDS + 32 * 3 / 20)
    slower = Speed(10.0, 150, "float32", "bench")
    assert live.modelled_batch_seconds(32, 150, 1, True, slower) > top_block
    # features of blocks 1-4 for 100 images: their share of a full forward pass each
    assert live.modelled_setup_seconds(100, 150, 1, speed) == pytest.approx(
        100 * (1 - vgg16.compute_share(1, 150)) / 20
    )


def test_vgg16_compute_share_by_block():
    assert vgg16.compute_share(0) == 0.0 and vgg16.compute_share(5) == pytest.approx(1.0)
    assert 0.08 < vgg16.compute_share(1) < 0.1  # block 5 is a small part of the work
    shares = [vgg16.compute_share(k) for k in range(6)]
    assert shares == sorted(shares)


def test_progress_sentence_names_the_whole_runs_eta():
    progress = Progress(
        stage="training",
        phase="head",
        epoch=2,
        epochs=6,
        step=4,
        steps=10,
        eta_seconds=3.0,
        run_eta_seconds=200.0,
        run_eta_measured=False,
    )
    assert report.run_eta_words(progress) == (
        "; all phases: at most about 3 min 20 s left (partly estimated)."
    )
    measured = dataclasses.replace(progress, run_eta_measured=True)
    assert report.run_eta_words(measured) == "; all phases: at most about 3 min 20 s left."
    assert report.run_eta_words(Progress()) == "."
    assert Progress.from_json(progress.to_json()) == progress


def test_the_whole_runs_time_left_is_never_below_the_epochs():
    """Issue 20 item 6: seen "about 1 min 00 s left in this epoch; all phases: at most about
    10 s left" (the epoch's clock and the model disagreed). The epoch's own figure stands in
    for the rest of the epoch, and the sentence never says less for all phases."""
    last = dataclasses.replace(HEAD, epochs_done=3, batch_seconds=0.1, validation_seconds=0.5)
    eta = live.run_eta([last], current=0, step=2, epoch_left=60.0)
    assert eta.seconds == pytest.approx(60.0 + 0.5)  # last epoch: its batches + validation
    assert live.run_eta([last], current=0, step=2).seconds == pytest.approx(8 * 0.1 + 0.5)
    earlier = Progress(
        stage="training", epoch=13, epochs=13, eta_seconds=60.0, run_eta_seconds=10.0
    )
    assert report.run_eta_words(earlier).startswith("; all phases: at most about 1 min 00 s")


def test_the_kept_epoch_is_the_last_phases_lowest_validation_loss():
    from core.runs.results import EpochRecord

    history = [
        EpochRecord("head", 1, val_loss=0.2),  # lowest of all, but an earlier phase's
        EpochRecord("finetune", 2, val_loss=0.5),
        EpochRecord("finetune", 3, val_loss=0.4),
        EpochRecord("finetune", 4, val_loss=0.4),  # as low, later: Keras keeps the first
        EpochRecord("finetune", 5, val_loss=0.6),
    ]
    assert live.kept_epoch(history) == 3
    assert live.kept_epoch([]) is None
    assert live.kept_epoch([EpochRecord("head", 1)]) is None
