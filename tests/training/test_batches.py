import torch

from trainlab.training.batches import batch_count, batches, epoch_order


def _epoch(n, b, shuffle, gen, min_size=1):
    x, y = epoch_order(torch.arange(n).float().unsqueeze(1), torch.arange(n), shuffle, gen)
    out = [xb[:, 0].long().tolist() for xb, _ in batches(x, y, b, min_size)]
    assert [yb.tolist() for _, yb in batches(x, y, b, min_size)] == out  # labels travel along
    return out


def test_online_minibatch_and_full_batch_cover_every_sample_once():
    g = torch.Generator().manual_seed(0)
    for b, count in ((1, 10), (3, 4), (10, 1)):
        epoch = _epoch(10, b, True, g)
        assert len(epoch) == count == batch_count(10, b)
        assert sorted(sum(epoch, [])) == list(range(10))


def test_fixed_order_repeats_and_shuffle_is_seeded():
    g = torch.Generator().manual_seed(0)
    in_order = [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert _epoch(10, 4, False, g) == _epoch(10, 4, False, g) == in_order
    a = [_epoch(10, 4, True, torch.Generator().manual_seed(1)) for _ in range(2)]
    assert a[0] == a[1]
    g = torch.Generator().manual_seed(1)
    assert _epoch(10, 4, True, g) != _epoch(10, 4, True, g)  # a fresh order every epoch


def test_a_last_batch_of_one_joins_the_previous_for_batch_norm():
    g = torch.Generator().manual_seed(0)
    assert _epoch(9, 4, False, g, min_size=2) == [[0, 1, 2, 3], [4, 5, 6, 7, 8]]
    assert batch_count(9, 4, 2) == 2 and batch_count(9, 4) == 3
