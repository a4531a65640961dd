"""compare's sentences: the interval and t are of the difference the sentence states."""

from trainlab.analysis import stats
from trainlab.analysis.report import _statement
from trainlab.experiments.compare import choose_metric


def _sentence(groups: dict, metric) -> str:
    (t,) = stats.pairwise(groups, higher_is_better=not metric.lower_is_better)
    return "".join(_statement(t, metric))


def test_the_interval_is_of_the_stated_difference():
    # adam is ahead of sgd by 0.15, 0.17 and 0.19 (mean 0.17, s = 0.02, t = 0.17 / (0.02 / √3))
    sgd = {0: 0.70, 1: 0.72, 2: 0.74}
    adam = {0: 0.85, 1: 0.89, 2: 0.93}
    accuracy = choose_metric("test_accuracy")
    text = _sentence({"sgd": sgd, "adam": adam}, accuracy)
    assert "adam is better than sgd: higher test accuracy, by 17.00 percentage points" in text
    assert "95% CI of adam − sgd: [12.03, 21.97 percentage points]" in text  # 4.303 * 2/√3
    assert "t = 14.72" in text
    # the same runs, the other order: the same sentence
    assert _sentence({"adam": adam, "sgd": sgd}, accuracy) == text
    # lower is better (the same numbers as losses): sgd is lower by 0.17, the interval is of
    # adam − sgd (how much higher the worse one is), positive
    loss = choose_metric("test_loss")
    text = _sentence({"adam": adam, "sgd": sgd}, loss)
    assert "sgd is better than adam: lower test loss, by 0.17" in text
    assert "95% CI of adam − sgd: [0.1203, 0.2197]" in text and "t = 14.72" in text
