from trainlab.training.early_stopping import EarlyStopping


def _run(values, **kw):
    s = EarlyStopping(**kw)
    for epoch, v in enumerate(values, 1):
        s.update(epoch, {kw["monitor"]: v})
        if s.should_stop:
            return epoch, s
    return None, s


def test_stops_after_patience_epochs_without_improvement():
    stop, s = _run([0.5, 0.6, 0.6, 0.55, 0.7], monitor="val_accuracy", patience=2)
    assert stop == 4 and s.best_epoch == 2 and s.best == 0.6


def test_min_delta_and_minimize():
    # improvements smaller than min_delta do not count (Keras: current + min_delta < best)
    stop, s = _run([1.0, 0.95, 0.5, 0.49, 0.48], monitor="val_loss", patience=2, min_delta=0.1)
    assert stop == 5 and s.best_epoch == 3


def test_patience_zero_never_stops_and_state_round_trips():
    stop, s = _run([3, 2, 1, 0], monitor="val_accuracy", patience=0)
    assert stop is None and s.best_epoch == 1 and s.wait == 3
    assert s.state_dict() == {"best": 3, "best_epoch": 1, "wait": 3}  # by hand
    t = EarlyStopping("val_accuracy", patience=4)
    t.load_state_dict(s.state_dict())
    # the restored stopper carries on where the first left off: one more epoch without
    # improvement makes wait 4 = patience; a fresh one would need four
    t.update(5, {"val_accuracy": 2.5})
    assert t.should_stop and t.best_epoch == 1 and t.best == 3
