"""Published presets: their names, their settings and the note when their weights meet other features."""

import pytest

from tf_nst.errors import InvalidArgumentError
from tf_nst.settings import StylizeSettings, fields_by_name
from tf_nst.settings.presets import PRESETS, backbone_note, get_preset


def test_every_preset_builds_valid_settings():
    for name in PRESETS:
        values = get_preset(name)
        assert "notes" not in values and set(values) - set(fields_by_name()) <= {"save_every"}
        StylizeSettings(**{key: value for key, value in values.items() if key != "save_every"})


def test_get_preset_is_a_copy_and_refuses_unknown_names():
    get_preset("jcjohnson")["size"] = 1
    assert get_preset("jcjohnson")["size"] != 1
    with pytest.raises(InvalidArgumentError, match="expected preset one of .*Received: preset='nope'"):
        get_preset("nope")


def test_backbone_note_only_for_unnormalized_weights_on_other_features():
    published = get_preset("jcjohnson")
    assert backbone_note("jcjohnson", published["backbone"], published["loss_form"]) is None
    assert backbone_note("jcjohnson", "vgg16-hed", "normalized") is None
    note = backbone_note("jcjohnson", "vgg16-hed", published["loss_form"])
    assert note.startswith(f"preset jcjohnson's weights were set for {published['backbone']} features; with vgg16-hed")
