"""tf_nst.settings: parsing of CLI strings, the schema's checks and round trip, the coarse-to-fine schedule."""

import pytest

from tf_nst import settings
from tf_nst.errors import InvalidArgumentError
from tf_nst.settings import StylizeSettings, VideoSettings


@pytest.mark.parametrize("text, expected", [
    ("6GB", 6 * 10**9), ("512MB", 512 * 10**6), ("1.5GiB", int(1.5 * 2**30)), ("800m", 800 * 10**6),
    (" 2 gb ", 2 * 10**9), ("4096", 4096), (3 * 2**30, 3 * 2**30)])
def test_parse_size(text, expected):
    assert settings.parse_size(text) == expected


@pytest.mark.parametrize("junk", ["", "GB", "six GB", "6XB", "-1GB", "0", 0, True, "1e9", None])
def test_parse_size_rejects_junk(junk):
    with pytest.raises(InvalidArgumentError, match="expected max_memory"):
        settings.parse_size(junk)


@pytest.mark.parametrize("text, expected", [("2:10", [2, 10]), (":5", [0, 5]), ("3:", [3, None]), (None, None)])
def test_parse_frame_range(text, expected):
    assert settings.parse_frame_range(text) == expected


def test_schema_checks_choices_and_limits_with_typed_messages():
    with pytest.raises(InvalidArgumentError, match="expected precision one of float32, bfloat16, auto. "
                                                   "Received: precision='fp16'"):
        StylizeSettings(precision="fp16")
    with pytest.raises(InvalidArgumentError, match=r"expected size in \[32, 16384\]. Received: size=16"):
        StylizeSettings(size=16)
    with pytest.raises(InvalidArgumentError, match="expected flow_method one of dis, farneback"):
        VideoSettings(flow_method="lucas-kanade")


def test_schema_round_trip_and_parsed_fields():
    chosen = StylizeSettings(size=256, num_steps=150, style_layers="block1_conv1,block2_conv1:0.5")
    assert chosen.style_layers == {"block1_conv1": 1.0, "block2_conv1": 0.5}
    assert StylizeSettings.from_dict(chosen.to_dict()) == chosen
    assert chosen.replace(size=512).size == 512 and chosen.size == 256


def test_choice_lists_are_the_schema_choices():
    fields = settings.fields_by_name()
    assert fields["precision"].metadata["choices"] == settings.PRECISIONS
    assert settings.COMPUTE_PRECISIONS == ("float32", "bfloat16")
    assert fields["optimizer"].metadata["choices"] == settings.OPTIMIZERS
    assert settings.fields_by_name(VideoSettings)["flow_method"].metadata["choices"] == settings.FLOW_METHODS


def test_automatic_schedule_halves_the_finest_steps():
    schedule = settings.schedule(StylizeSettings(size=600, num_steps=40))
    assert schedule.sizes == [300, 600] and schedule.steps == [40, 20]
    # Explicit scales keep --steps at every scale; explicit scale_steps win.
    assert settings.schedule(StylizeSettings(size=600, num_steps=40, scales=2)).steps == [40, 40]
    assert settings.schedule(StylizeSettings(size=600, num_steps=40, scale_steps=[3, 5])).steps == [3, 5]
    assert settings.schedule(StylizeSettings(size=64)).sizes == [64]
    assert settings.schedule(StylizeSettings(size=1024, num_steps=100)).total_steps == 250


@pytest.mark.parametrize("size, sizes", [
    (64, [64]), (512, [512]), (513, [256, 513]), (600, [300, 600]), (768, [384, 768]),
    (1024, [256, 512, 1024]), (2048, [256, 512, 1024, 2048]),
])
def test_automatic_scales(size, sizes):
    # Above 512 px: coarse-to-fine from the halving of the size that stays >= 256 px.
    assert settings.scale_sizes("auto", size) == sizes
