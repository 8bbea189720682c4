"""Every setting of a run, in one place (TensorFlow-free).

- `choices`: every choice list, limit and default, defined once.
- `parsing`: a CLI string or stored JSON value to a setting's value.
- `schema`: `StylizeSettings`, `VideoSettings`, `TrainSettings`, `ArbitrarySettings` and `NetworkSettings`,
  whose field metadata generates the CLI options.
- `schedule`: the coarse-to-fine sizes and evaluations of a run.
- `presets`: published settings by name.
"""

from tf_nst.settings.choices import (
    BACKBONE_NAMES, POOLING_MODES, PREPROCESSING_MODES, PRECISIONS, LOSS_FORMS, OPTIMIZERS,
    LBFGS_FIRST_STEPS, PRESERVE_COLORS_MODES, INIT_MODES, EXPORT_INIT_MODES, MIN_SIDE, MAX_SIDE,
    MAX_STEPS, MAX_SCALES, MAX_STYLE_SCALE, MIN_TILE, DEFAULT_CONTENT_LAYERS, DEFAULT_STYLE_LAYERS,
    MIN_AUTO_TILE, TRAIN_CONTENT_LAYERS, TRAIN_STYLE_LAYERS, TRAIN_STYLE_WEIGHT, TRAIN_TV_WEIGHT,
    ARBITRARY_KIND, ARBITRARY_LEVEL_LAYERS, VGG_BLOCK_CHANNELS, VGG_BLOCK_CONVS, ARBITRARY_FEATURE_SCALES,
    ARBITRARY_TRANSFORMS, ARBITRARY_RUNTIMES, CAFFE_MEAN_BGR, MODEL_FORMAT, MODEL_INIT_PREFIX, COMPUTE_PRECISIONS, FLOW_METHODS, RUNNERS, DEFAULT_MAX_INPUT_PIXELS)
from tf_nst.settings.parsing import (
    parse_layer_weights, format_layer_weights, parse_scales, parse_scale_steps, parse_blend, resolve_blend,
    StyleBlend, parse_init,
    parse_weights, parse_memory, parse_size, parse_frame_range, check_tune_styles)
from tf_nst.settings.schema import (
    setting, CheckedSettings, StylizeSettings, VideoSettings, TrainSettings, ArbitrarySettings, NetworkSettings,
    check_value,
    fields_by_name, option_name, control_names)
from tf_nst.settings.schedule import Schedule, scale_sizes, schedule
