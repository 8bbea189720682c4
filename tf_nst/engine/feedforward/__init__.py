"""Feed-forward networks: one forward pass per image instead of an optimization.

- `transformer`: `TransformerNet`, Johnson et al.'s network with conditional instance norm
  (several styles, mixed by a style-weights vector), and its layers.
- `rendering`: `FeedForward`, a network ready to stylize photos of any size (blend, region
  masks, colours); `tiling`: the exact tiled pass it takes for large photos.
- `model_files`: a trained network's model folder (`save_model`, `load_model`).
- `arbitrary`: any painting in one pass: `FeatureInverter` (decoders trained on photos alone to
  invert the backbone's features), its trainer `InverterTrainer` and folder (`save_inverter`,
  `load_inverter`); `arbitrary_stylizer`: `ArbitraryStylizer` (the `arbitrary_transforms`, WCT or
  AdaIN, coarse to fine), and `arbitrary_tiling`: its tiled passes for large images.
- `perceptual`: `PerceptualLoss`, the engine's objective over a batch of outputs;
  `trainer`: `StyleTrainer`, the `keras.Model` whose `train_step` minimizes it.

Driving a training run (photos, checkpoints, previews) is `tf_nst.runs.training`; a network's
SavedModel is `tf_nst.serving.feedforward_export`.
"""

from tf_nst.engine.feedforward.arbitrary import (ArbitraryStylizer, FeatureInverter, InverterTrainer, load_inverter,
                                                 save_inverter)
from tf_nst.engine.feedforward.model_files import load_model, save_model
from tf_nst.engine.feedforward.perceptual import PerceptualLoss
from tf_nst.engine.feedforward.rendering import FeedForward
from tf_nst.engine.feedforward.trainer import StyleTrainer
from tf_nst.engine.feedforward.transformer import ConditionalInstanceNorm, TransformerNet

__all__ = ["ArbitraryStylizer", "FeatureInverter", "InverterTrainer", "load_inverter", "save_inverter",
           "ConditionalInstanceNorm", "FeedForward", "PerceptualLoss", "StyleTrainer", "TransformerNet",
           "load_model", "save_model"]
