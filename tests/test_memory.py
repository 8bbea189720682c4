"""The memory budget: peak estimates, the tile a budget allows, and the plan a Stylizer follows."""

import pytest

from tf_nst import settings
from tf_nst.engine import memory
from tf_nst.engine.backbones import FeatureExtractor
from tf_nst.errors import InvalidArgumentError

CONTENT_LAYERS = {"block4_conv2": 1.0}
STYLE_LAYERS = {f"block{i}_conv1": 1.0 for i in range(1, 6)}


@pytest.fixture(scope="module")
def hed():
    return FeatureExtractor(list(CONTENT_LAYERS) + list(STYLE_LAYERS), backbone="vgg16-hed")


def test_choose_tile():
    floats = 296.0  # vgg16 up to block5_conv1
    untiled = memory.estimate_peak_bytes(1024, 1024, floats)
    assert memory.choose_tile(1024, 1024, untiled, floats) is None
    budget = memory.estimate_peak_bytes(3072, 4096, floats, tile_size=1024)
    tile = memory.choose_tile(3072, 4096, budget, floats)
    assert tile == 1024  # the largest aligned tile that fits
    assert memory.estimate_peak_bytes(3072, 4096, floats, tile_size=tile + 16) > budget
    smaller = memory.choose_tile(3072, 4096, budget - 1, floats)
    assert smaller % 16 == 0 and settings.MIN_AUTO_TILE <= smaller < tile
    assert memory.choose_tile(3072, 4096, memory.estimate_peak_bytes(3072, 4096, floats, tile_size=512),
                              floats) == 512
    with pytest.raises(InvalidArgumentError, match="expected a memory budget of at least"):
        memory.choose_tile(3072, 4096, 10**8, floats)
    # More history, more memory, smaller tiles.
    assert memory.choose_tile(3072, 4096, budget, floats, history_size=11) < tile


def test_plan_tiling(hed):
    tile, estimate, budget = memory.plan_tiling(hed, 256, 256, history_size=10, max_memory="64GB",
                                                content_layers=list(CONTENT_LAYERS))
    assert tile is None and estimate <= budget == 64 * 10**9
    tile, estimate, budget = memory.plan_tiling(hed, 3072, 4096, history_size=10, max_memory="16GB",
                                                content_layers=list(CONTENT_LAYERS))
    assert tile is not None and tile % 16 == 0 and estimate <= budget
    forced, _, _ = memory.plan_tiling(hed, 256, 256, history_size=10, max_memory="64GB", tile_size=128)
    assert forced == 128
    assert memory.default_budget() > 0
