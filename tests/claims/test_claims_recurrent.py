"""The recurrent claims' helpers against hand computations: the population statistics of
recurrent batch norm (per step, and shared over time) are the batch mean and variance of the
cell's input term x_t W_ih', computed here directly."""

import torch
from torch.nn import functional as F

from trainlab.claims.catalogue_recurrent import population_statistics, shared_over_time
from trainlab.models.rnn import RecurrentClassifier


def _bn_lstm() -> RecurrentClassifier:
    torch.manual_seed(0)
    return RecurrentClassifier("lstm", (12,), [4], 3, recurrent_norm="batch", bn_time_steps=12)


def test_population_statistics_are_each_steps_batch_mean_and_variance():
    model, x = _bn_lstm(), torch.randn(50, 12)
    population_statistics(model, x)
    layer = model.layers[0]
    wx = F.linear(x.unsqueeze(-1), layer.weight_ih)  # (N, T, gates): the term norm_x sees
    torch.testing.assert_close(layer.norm_x.running_mean, wx.mean(0))
    torch.testing.assert_close(layer.norm_x.running_var, wx.var(0, unbiased=True))
    assert layer.norm_x.momentum == 0.1  # restored


def test_shared_statistics_are_the_mean_over_steps_and_used_at_every_step():
    model, x = _bn_lstm(), torch.randn(50, 12)
    population_statistics(model, x)
    naive = shared_over_time(model)
    wx = F.linear(x.unsqueeze(-1), model.layers[0].weight_ih)
    norm = naive.layers[0].norm_x
    torch.testing.assert_close(norm.running_mean[0], wx.mean(0).mean(0))
    torch.testing.assert_close(norm.running_var[0], wx.var(0, unbiased=True).mean(0))
    assert norm.steps == 1 and norm.running_mean.shape == (1, wx.shape[-1])
    naive.eval()
    a = torch.randn(4, wx.shape[-1])
    expected = (a - norm.running_mean[0]) / torch.sqrt(norm.running_var[0] + norm.eps)
    for t in (0, 5, 11):  # every step normalizes with the one shared set
        torch.testing.assert_close(norm(a, t), norm.gamma * expected)
    assert model.layers[0].norm_x.steps == 12  # the original keeps its per-step statistics
