import pytest

from triage import ProbeSettings, run_probes
from triage.probe import ProbeCallback


class Recorder(ProbeCallback):
    def __init__(self, stop_at=None):
        self.seen = []
        self.stop_at = stop_at

    def on_epoch_end(self, epoch, val_loss):
        self.seen.append((epoch, val_loss))
        return epoch == self.stop_at


def test_validation_loss_after_every_epoch(blobs):
    recorder = Recorder()
    result = run_probes(blobs, [ProbeSettings(lr=0.1, epochs=3)], callbacks=[recorder])[0]
    assert [epoch for epoch, _ in recorder.seen] == [1, 2, 3]
    assert result.epoch_val_losses == [loss for _, loss in recorder.seen]
    assert result.epoch_val_losses[-1] == pytest.approx(result.val_loss)
    assert not result.stopped_early


def test_a_callback_can_stop_the_probe(blobs):
    stopper, watcher = Recorder(stop_at=1), Recorder()
    result = run_probes(blobs, [ProbeSettings(lr=0.1, epochs=3)],
                        callbacks=[stopper, watcher])[0]
    assert result.stopped_early and result.steps == 3  # 96 samples / 32 per step
    assert len(watcher.seen) == 1  # every hook ran before the probe stopped
    assert result.val_loss is not None


def test_partial_epochs_are_not_reported(blobs):
    recorder = Recorder()
    run_probes(blobs, [ProbeSettings(lr=0.1, steps=7)], callbacks=[recorder])
    assert [epoch for epoch, _ in recorder.seen] == [1, 2]


def test_default_hooks_change_nothing(blobs):
    plain, hooked = (run_probes(blobs, [ProbeSettings(lr=0.1, epochs=2)], callbacks=cbs)[0]
                     for cbs in ((), (ProbeCallback(),)))
    assert plain.losses == hooked.losses and plain.val_loss == hooked.val_loss
    # Epochs are only evaluated when some callback overrides on_epoch_end.
    assert plain.epoch_val_losses == [] and hooked.epoch_val_losses == []


class GradientSpy(ProbeCallback):
    def __init__(self):
        self.steps, self.norms = [], []

    def on_backward(self, step, model):
        self.steps.append(step)
        self.norms.append(sum(float(p.grad.norm()) for p in model.parameters()))


def test_on_backward_sees_every_steps_gradients(blobs):
    spy = GradientSpy()
    result = run_probes(blobs, [ProbeSettings(lr=0.1, steps=5)], callbacks=[spy])[0]
    assert spy.steps == [0, 1, 2, 3, 4] and result.steps == 5
    assert all(n > 0 for n in spy.norms)
    assert result.epoch_val_losses == []  # no on_epoch_end override: no per-epoch evaluation
