"""Training feed-forward networks: resume, --add-style, a short real training, the CLI's errors."""

import dataclasses
import os

import numpy as np
import pytest
import tensorflow as tf
from click.testing import CliRunner
from PIL import Image

from conftest import ASSETS, STYLE_PATH, gradient_image
from tf_nst.cli import app as cli
from tf_nst.engine.feedforward.rendering import FeedForward
from tf_nst.engine.losses import gram_matrix, normalized_squared_error
from tf_nst.engine.feedforward.model_files import load_model
from tf_nst.engine.feedforward.trainer import StyleTrainer
from tf_nst.errors import InvalidArgumentError, TrainingDivergedError
from tf_nst.io.model_folders import read_model_info
from tf_nst.runs.training import CHECKPOINT_FILE, steps_per_execution, train
from tf_nst.settings import TrainSettings

SCREAM = os.path.join(ASSETS, "the_scream.jpg")
TINY = dict(backbone="vgg16", weights="random", size=32, style_size=32, batch_size=2, width=4,
            num_residual_blocks=1, checkpoint_every=2, preview_every=0, content_layers="block2_conv2",
            style_layers="block1_conv2,block2_conv2")


@pytest.fixture(scope="module")
def base_model(photos, tmp_path_factory):
    """A one-style model trained for 2 steps (random VGG16 features)."""
    base = str(tmp_path_factory.mktemp("base") / "model")
    train([STYLE_PATH], [photos], base, TrainSettings(num_steps=2, **TINY), verbose=0)
    return base


def stop_after(steps):
    calls = []

    def should_stop():
        calls.append(1)
        return len(calls) >= steps
    return should_stop


@pytest.mark.large  # 10-20 s: real training steps
def test_interrupted_fit_resumes_where_it_stopped(photos, tmp_path):
    output = str(tmp_path / "m")
    settings = TrainSettings(num_steps=4, **TINY)
    # Two steps per execution here (checkpoint_every=2): the first poll comes after step 2.
    first = train([STYLE_PATH, SCREAM], [photos], output, settings, verbose=0, should_stop=stop_after(1))
    assert first["steps"] == 2 and first["photos"]["count"] == 3 and first["interrupted"] is False
    saved, _ = load_model(output)
    second = train([STYLE_PATH, SCREAM], [photos], output, settings, verbose=0)
    assert second["steps"] == 4 and second["seconds"] >= first["seconds"]
    info = read_model_info(output)
    assert [style["name"] for style in info["provenance"]["styles"]] == ["starry_night", "the_scream"]
    resumed, _ = load_model(output)
    changed = [not np.array_equal(a.numpy(), b.numpy()) for a, b in zip(saved.weights, resumed.weights)]
    assert any(changed)


def test_flat_crops_are_drawn_again_and_a_flat_only_photo_set_still_trains(tmp_path):
    """A photo of one colour beside a textured one: no crop of a batch is flat (a flat crop gave bf16 training a
    NaN gradient); a set of flat photos
    only still yields crops (every attempt flat: kept)."""
    from tf_nst.runs.photos import FLAT_CROP_STD, is_flat, photo_dataset

    Image.fromarray(np.full((64, 80, 3), (2, 115, 60), np.uint8)).save(tmp_path / "a_flat.png")
    Image.fromarray(gradient_image(64, 80, seed=3)).save(tmp_path / "b_textured.png")
    paths = [str(tmp_path / "a_flat.png"), str(tmp_path / "b_textured.png")]
    crops = np.concatenate([batch.numpy() for batch in photo_dataset(paths, 32, 4, seed=5).take(10)])
    deviations = crops.std(axis=(1, 2)).max(axis=-1)
    assert deviations.min() >= FLAT_CROP_STD
    plain = np.concatenate([batch.numpy() for batch in photo_dataset(paths[1:], 32, 4, seed=5).take(10)])
    assert plain.std(axis=(1, 2)).max(axis=-1).min() >= FLAT_CROP_STD  # a textured photo's crops are never flat
    flat_only = next(iter(photo_dataset(paths[:1], 32, 4, seed=5))).numpy()
    assert flat_only.shape == (4, 32, 32, 3) and all(bool(is_flat(tf.constant(image))) for image in flat_only)


def test_steps_per_execution_divides_every_period_and_the_start():
    settings = TrainSettings(num_steps=8000, checkpoint_every=50, preview_every=200)
    assert steps_per_execution(settings, 0) == 2
    assert steps_per_execution(settings.replace(checkpoint_every=100, preview_every=400), 0) == 4
    assert steps_per_execution(settings.replace(checkpoint_every=100, preview_every=0), 0) == 4
    assert steps_per_execution(settings.replace(checkpoint_every=100), 301) == 1
    assert steps_per_execution(settings.replace(checkpoint_every=100), 7998) == 2
    assert steps_per_execution(settings.replace(checkpoint_every=100), 0, tensorboard=True) == 1


@pytest.mark.large  # 10-20 s: real training steps
def test_a_diverged_training_stops_with_the_last_finite_checkpoint_kept(photos, tmp_path, monkeypatch):
    """A NaN or infinite loss or weight stops the training before anything is saved: the folder keeps the
    finite checkpoint and model of step 2, and the CLI says so in one line. (The divergence is made: each
    step of the resumed run leaves NaN in a weight after its update, as an exploding update would.)"""
    output = str(tmp_path / "m")
    train([STYLE_PATH], [photos], output, TrainSettings(num_steps=2, **TINY), verbose=0)
    saved, _ = load_model(output)
    original = StyleTrainer.train_step

    def diverging(self, photos):
        parts = original(self, photos)
        weight = self.network.trainable_variables[0]
        weight.assign(tf.fill(tf.shape(weight), float("nan")))
        return parts

    monkeypatch.setattr(StyleTrainer, "train_step", diverging)
    with pytest.raises(TrainingDivergedError, match=r"the training diverged at step \d+ \("):
        train([STYLE_PATH], [photos], output, TrainSettings(num_steps=8, **TINY), verbose=0)
    with np.load(os.path.join(output, CHECKPOINT_FILE)) as stored:
        assert int(stored["step"]) == 2
        assert all(np.all(np.isfinite(stored[name])) for name in stored.files)
    kept, _ = load_model(output)
    assert all(np.array_equal(a.numpy(), b.numpy()) for a, b in zip(saved.weights, kept.weights))
    result = CliRunner().invoke(cli.cli, ["train", STYLE_PATH, "--photos", photos, "-o", output, "--steps", "8",
                                          "--backbone", "vgg16", "--weights", "random", "--size", "32",
                                          "--style-size", "32", "--batch-size", "2", "--width", "4",
                                          "--residual-blocks", "1", "--checkpoint-every", "2", "--preview-every", "0",
                                          "--content-layers", "block2_conv2", "--style-layers",
                                          "block1_conv2,block2_conv2", "--quiet"])
    assert result.exit_code == 1 and result.output.strip().startswith("Error: the training diverged at step")
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1


@pytest.mark.large  # 10-20 s: real training steps
def test_ctrl_c_inside_a_multi_step_run_saves_the_steps_done(photos, tmp_path):
    """Four steps per execution: a Ctrl-C at the first poll leaves a checkpoint of step 4 (not 1), and the
    rerun polls after the checkpoints of steps 8 and 12."""
    output = str(tmp_path / "m")
    settings = TrainSettings(num_steps=12, **{**TINY, "checkpoint_every": 4})

    def interrupt():
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train([STYLE_PATH], [photos], output, settings, verbose=0, should_stop=interrupt)
    with np.load(os.path.join(output, CHECKPOINT_FILE)) as stored:
        assert int(stored["step"]) == 4 and int(stored["optimizer1_0"]) == 4
    assert read_model_info(output)["provenance"]["interrupted"] is True
    steps = []
    provenance = train([STYLE_PATH], [photos], output, settings, verbose=0,
                       should_stop=lambda: steps.append(int(np.load(os.path.join(output, CHECKPOINT_FILE))["step"])))
    assert steps == [8, 12] and provenance["steps"] == 12 and provenance["interrupted"] is False


@pytest.mark.large  # 10-20 s: real training steps
def test_add_style_trains_only_the_new_norm_parameters(photos, base_model, tmp_path):
    base = base_model
    extended = str(tmp_path / "extended")
    provenance = train([SCREAM], [photos], extended, TrainSettings(num_steps=2, **TINY), add_style=base, verbose=0)
    assert [style["name"] for style in provenance["styles"]] == ["starry_night", "the_scream"]
    old, _ = load_model(base)
    new, _ = load_model(extended)
    assert new.style_names == ["starry_night", "the_scream"]
    for before, after in zip(old.weights, new.weights):
        if after.path.endswith(("/scale", "/shift")):
            np.testing.assert_array_equal(before.numpy()[0], after.numpy()[0])
            assert not np.array_equal(after.numpy()[1], before.numpy()[0])
        else:
            np.testing.assert_array_equal(before.numpy(), after.numpy())


@pytest.mark.large  # 10-20 s: real training steps
def test_start_from_begins_at_the_models_weights_and_records_it(photos, base_model, tmp_path):
    """A fine-tune starts from the trained model's weights, not a fresh network (a learning rate of 1e-30 moves no
    weight, so the result is the base's; a fresh start would be the seed's untrained weights), records where it
    started, and refuses a model of other styles or shape."""
    still = TrainSettings(num_steps=2, learning_rate=1e-30, norm_learning_rate=1e-30, **TINY)
    tuned = str(tmp_path / "tuned")
    provenance = train([STYLE_PATH], [photos], tuned, still, start_from=base_model, verbose=0)
    old, _ = load_model(base_model)
    new, _ = load_model(tuned)
    for before, after in zip(old.weights, new.weights):
        np.testing.assert_allclose(after.numpy(), before.numpy(), atol=1e-6)
    assert provenance["steps"] == 2
    assert provenance["start_from"]["model"] == base_model and provenance["start_from"]["steps"] == 2
    assert provenance["start_from"]["weights_sha256"] == read_model_info(tuned)["provenance"]["start_from"][
        "weights_sha256"] and len(provenance["start_from"]["weights_sha256"]) == 64
    with pytest.raises(InvalidArgumentError, match="expected the styles of the model"):
        train([SCREAM], [photos], str(tmp_path / "other"), still, start_from=base_model, verbose=0)
    with pytest.raises(InvalidArgumentError, match="expected --width 4 --residual-blocks 1"):
        train([STYLE_PATH], [photos], str(tmp_path / "wide"), dataclasses.replace(still, width=8),
              start_from=base_model, verbose=0)
    result = CliRunner().invoke(cli.cli, ["train", SCREAM, "--photos", photos, "-o", str(tmp_path / "cli"),
                                          "--start-from", base_model, "--quiet"])
    assert result.exit_code != 0 and result.output.strip().startswith("Error: expected the styles of the model")


@pytest.mark.large  # 10-20 s: real training steps
def test_tune_style_trains_only_that_styles_norm_rows(photos, tmp_path):
    """`--tune-style` on a two-style model: the named style's scales and shifts move; the convolutions and the
    other style's rows stay the model's exactly; the provenance says which; a name or a start it cannot use is
    refused."""
    base = str(tmp_path / "two")
    train([STYLE_PATH, SCREAM], [photos], base, TrainSettings(num_steps=2, **TINY), verbose=0)
    tuned = str(tmp_path / "tuned")
    provenance = train([STYLE_PATH, SCREAM], [photos], tuned, TrainSettings(num_steps=2, **TINY), start_from=base,
                       tune_styles=["the_scream"], verbose=0)
    assert provenance["tuned_styles"] == ["the_scream"]
    assert read_model_info(tuned)["provenance"]["tuned_styles"] == ["the_scream"]
    (old, _), (new, _) = load_model(base), load_model(tuned)
    norms = 0
    for before, after in zip(old.weights, new.weights):
        if after.path.endswith(("/scale", "/shift")):
            norms += 1
            np.testing.assert_array_equal(before.numpy()[0], after.numpy()[0])
            assert not np.array_equal(before.numpy()[1], after.numpy()[1])
        else:
            np.testing.assert_array_equal(before.numpy(), after.numpy())
    assert norms > 0
    with pytest.raises(InvalidArgumentError, match=r"expected --tune-style names among the styles "
                                                   r"\(starry_night, the_scream\). Received: shipwreck"):
        train([STYLE_PATH, SCREAM], [photos], str(tmp_path / "x"), TrainSettings(num_steps=2, **TINY),
              start_from=base, tune_styles=["shipwreck"], verbose=0)
    result = run_cli(["train", STYLE_PATH, "--photos", photos, "-o", str(tmp_path / "y"), "--tune-style",
                      "starry_night"] + tiny_options())
    assert result.exit_code != 0 and result.output.strip().splitlines()[-1] == (
        "Error: expected --start-from MODEL_DIR with --tune-style (it tunes a trained model's styles). "
        "Received: --tune-style starry_night alone")
    assert not os.path.exists(tmp_path / "x") and not os.path.exists(tmp_path / "y")


@pytest.mark.large  # 10-20 s: real training steps
def test_average_writes_the_mean_of_the_models_weights(photos, base_model, tmp_path):
    """Two points of one network (the base and a fine-tune of it): the average holds their mean weight by weight
    (within float16 rounding), stylizes, and records what it averaged; other networks are refused."""
    tuned = str(tmp_path / "tuned")
    train([STYLE_PATH], [photos], tuned, TrainSettings(num_steps=2, learning_rate=1e-2, **TINY), start_from=base_model,
          verbose=0)
    averaged = str(tmp_path / "averaged")
    result = CliRunner().invoke(cli.cli, ["average", base_model, tuned, "-o", averaged])
    assert result.exit_code == 0, result.output
    (first, _), (second, _), (mean, info) = load_model(base_model), load_model(tuned), load_model(averaged)
    moved = 0
    for a, b, m in zip(first.weights, second.weights, mean.weights):
        expected = (a.numpy().astype(np.float64) + b.numpy()) / 2
        np.testing.assert_allclose(m.numpy(), expected, rtol=1e-3, atol=1e-4)
        moved += int(not np.allclose(a.numpy(), b.numpy()))
    assert moved > 0  # the two points differ, so the mean is neither
    sources = info["provenance"]["averaged_from"]
    assert [source["model"] for source in sources] == [base_model, tuned] and sources[1]["start_from"]["steps"] == 2
    assert "losses" not in info["provenance"] and info["provenance"]["styles"][0]["name"] == "starry_night"
    assert "steps" not in info["provenance"] and "start_from" not in info["provenance"]  # the sources' own, above
    assert FeedForward(mean).stylize(gradient_image(32, 40, seed=1)).shape == (32, 40, 3)
    wide = str(tmp_path / "wide")
    train([STYLE_PATH], [photos], wide, TrainSettings(num_steps=2, **dict(TINY, width=8)), verbose=0)
    refused = CliRunner().invoke(cli.cli, ["average", base_model, wide, "-o", str(tmp_path / "mixed")])
    assert refused.exit_code == 1 and refused.output.strip().startswith("Error: expected models of one network")
    assert not os.path.exists(tmp_path / "mixed")
    again = CliRunner().invoke(cli.cli, ["average", base_model, tuned, "-o", averaged])
    assert again.exit_code == 1 and "it exists" in again.output


def style_distance(rgb, style_gram, extractor, layer):
    features = extractor(tf.constant(np.asarray(rgb, np.float32)[None]))
    return float(normalized_squared_error(gram_matrix(features[layer]), style_gram))


@pytest.mark.large  # 10-20 s: real training steps
def test_short_real_training_lowers_the_loss_and_moves_toward_the_style(tmp_path):
    """vgg16-hed (real features): the loss falls and a held-out photo's Gram moves toward the painting's."""
    from tf_nst.engine.backbones import FeatureExtractor
    from tf_nst.io.images import load_image

    folder = tmp_path / "photos"
    folder.mkdir()
    astronaut = np.asarray(load_image(os.path.join(ASSETS, "astronaut.png")).rgb)
    for index, (top, left) in enumerate([(0, 0), (200, 200), (0, 256)]):
        Image.fromarray(astronaut[top:top + 256, left:left + 256]).save(folder / f"crop{index}.png")
    settings = TrainSettings(num_steps=40, size=48, style_size=64, batch_size=2, width=8, num_residual_blocks=1,
                             checkpoint_every=10, preview_every=0, learning_rate=1e-2, precision="float32")
    # The first 10 steps, then the same command resumed to 40: the last 10 steps' mean loss against the first's.
    first = train([STYLE_PATH], [str(folder)], str(tmp_path / "m"), dataclasses.replace(settings, num_steps=10),
                  verbose=0)
    provenance = train([STYLE_PATH], [str(folder)], str(tmp_path / "m"), settings, verbose=0)
    assert provenance["steps"] == 40
    assert provenance["losses"]["loss"] < 0.5 * first["losses"]["loss"]
    network, _ = load_model(str(tmp_path / "m"), dtype="float32")
    held_out = tf.image.resize(gradient_image(64, 64, seed=5)[None].astype(np.float32), [64, 64]).numpy()[0]
    held_out = held_out.astype(np.uint8)
    out = FeedForward(network).stylize(held_out)
    extractor = FeatureExtractor(["block2_conv2"], backbone="vgg16-hed")
    style = tf.image.resize(np.asarray(load_image(STYLE_PATH).rgb, np.float32)[None], [64, 80])
    style_gram = gram_matrix(extractor(style)["block2_conv2"])
    assert style_distance(out, style_gram, extractor, "block2_conv2") < \
        0.7 * style_distance(held_out, style_gram, extractor, "block2_conv2")


def run_cli(arguments):
    return CliRunner().invoke(cli.cli, arguments)


def tiny_options():
    return ["--backbone", "vgg16", "--weights", "random", "--size", "32", "--style-size", "32", "--width", "4",
            "--residual-blocks", "1", "--batch-size", "2", "--content-layers", "block2_conv2",
            "--style-layers", "block1_conv2", "--quiet"]


def test_cli_errors_are_one_line_and_write_nothing(photos, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "bad.jpg").write_bytes(b"not a jpeg at all")
    out = str(tmp_path / "out")
    cases = [
        (["train", STYLE_PATH, "--photos", str(empty), "-o", out],
         f"Error: expected --photos to contain images. Received: folder {empty} has no image files"),
        (["train", STYLE_PATH, "--photos", str(broken), "-o", out],
         "Error: expected readable training photos of at least 32 px. Received: --photos with 1 file(s), none "
         f"readable ({broken / 'bad.jpg'}: "),
    ]
    for arguments, start in cases:
        result = run_cli(arguments + ["--steps", "1"] + tiny_options())
        assert result.exit_code == 2
        assert result.output.strip().splitlines()[-1].startswith(start), result.output
        assert not os.path.exists(out)


def test_cli_model_errors(photos, base_model, tmp_path):
    model = base_model
    result = run_cli(["train", STYLE_PATH, SCREAM, "--photos", photos, "-o", model, "--steps", "3"] + tiny_options())
    assert result.exit_code == 1
    assert result.output.strip().splitlines()[-1].startswith(
        f"Error: expected the styles of the model in {model} (1: starry_night) to resume it. Received: 2 style(s)")
    result = run_cli(["train", STYLE_PATH, "--photos", photos, "-o", str(tmp_path / "more"), "--add-style", model,
                      "--steps", "2"] + tiny_options())
    assert result.output.strip().splitlines()[-1] == (
        "Error: expected new style names for --add-style (the model has starry_night). Received: starry_night")
    assert not os.path.exists(tmp_path / "more")
    (tmp_path / "other").mkdir()
    result = run_cli(["info", str(tmp_path / "other")])
    assert result.exit_code == 1 and result.output.strip() == (
        f"Error: expected a model folder with model.json (written by `cli.py train`). Received: {tmp_path / 'other'}")
    result = run_cli(["stylize", "--model", str(tmp_path / "other"), "-o", str(tmp_path / "x.png")])
    assert result.exit_code == 1 and not os.path.exists(tmp_path / "x.png")
    result = run_cli(["info", model])
    assert result.exit_code == 0 and "steps: 2" in result.output and "styles: " in result.output
    result = run_cli(["stylize", os.path.join(ASSETS, "astronaut.png"), "--model", model, "--style-blend", "1,1",
                      "-o", str(tmp_path / "y.png")])
    assert result.output.strip().splitlines()[-1] == (
        "Error: expected 1 weights, one per style of the model (starry_night). Received: 2")


def test_training_uses_the_objective_with_its_loss_terms_and_preprocessing():
    """A `LossTerm` adds to the training loss exactly as to the optimization's; the backbone's preprocessing is
    the setting's (no silent drop)."""
    from tf_nst.engine.feedforward.perceptual import PerceptualLoss
    from tf_nst.engine.losses import LossTerm
    from tf_nst.runs.training import build_objective

    class Brightness(LossTerm):
        def call(self, image, features):
            return tf.reduce_mean(image) / 255.0

    settings = TrainSettings(**TINY, extra_loss_terms=(Brightness(weight=5.0),), preprocessing="unit")
    objective = build_objective(settings)
    assert objective.extractor.preprocessing == "unit" and objective.loss_names[-1] == "Brightness"
    loss = PerceptualLoss(objective)
    photos = tf.constant(np.stack([gradient_image(32, 32, seed=seed) for seed in range(2)]), tf.float32)
    targets = loss.style_targets([photos[:1]])
    total, parts = loss(photos, photos, targets, tf.constant([0, 0]), 1.0, 3.0, 1.0)
    assert parts.shape == (5,)
    without = 1.0 * parts[1] + 3.0 * parts[2] + 1.0 * parts[3]
    np.testing.assert_allclose(float(total - without), 5.0 * float(tf.reduce_mean(photos)) / 255.0, rtol=1e-5)


def test_per_style_weights_weigh_each_images_style_term_by_its_style():
    """`--per-style-weight`: each image's style term by its own style's weight (the reported style part stays the
    unweighted mean); equal weights are the one weight; a name that is not a style is refused."""
    from tf_nst.engine.feedforward.perceptual import PerceptualLoss
    from tf_nst.errors import InvalidArgumentError
    from tf_nst.runs.training import build_objective, style_weights

    loss = PerceptualLoss(build_objective(TrainSettings(**TINY)))
    photos = tf.constant(np.stack([gradient_image(32, 32, seed=seed) for seed in range(2)]), tf.float32)
    outputs = tf.constant(np.stack([gradient_image(32, 32, seed=seed + 5) for seed in range(2)]), tf.float32)
    targets = loss.style_targets([photos[:1], photos[1:]])
    indices = tf.constant([0, 1])
    _, alone = zip(*[loss(outputs[i:i + 1], photos[i:i + 1], targets, indices[i:i + 1], 1.0, 1.0, 1.0)
                     for i in range(2)])
    total, parts = loss(outputs, photos, targets, indices, 1.0, [12.0, 6.0], 1.0)
    expected = parts[1] + (12.0 * alone[0][2] + 6.0 * alone[1][2]) / 2 + parts[3]
    np.testing.assert_allclose(float(total), float(expected), rtol=1e-5)
    np.testing.assert_allclose(float(parts[2]), float(alone[0][2] + alone[1][2]) / 2, rtol=1e-5)
    same, _ = loss(outputs, photos, targets, indices, 1.0, [6.0, 6.0], 1.0)
    one, _ = loss(outputs, photos, targets, indices, 1.0, 6.0, 1.0)
    np.testing.assert_allclose(float(same), float(one), rtol=1e-5)
    assert float(total) > float(one)

    settings = TrainSettings(**TINY, style_weight=6.0, per_style_weight="starry_night:12")
    assert style_weights(settings, ["starry_night", "the_scream"]) == [12.0, 6.0]
    assert style_weights(TrainSettings(**TINY, style_weight=6.0), ["starry_night"]) == 6.0
    with pytest.raises(InvalidArgumentError, match=r"expected --per-style-weight names among the styles "
                                                   r"\(starry_night\). Received: scream"):
        style_weights(TrainSettings(**TINY, per_style_weight="scream:2"), ["starry_night"])
    with pytest.raises(InvalidArgumentError, match="expected name:weight pairs"):
        TrainSettings(**TINY, per_style_weight="12")
