"""The engine: features, losses, the objective (tiled when memory requires), optimizers and the `Stylizer` driver.

Data path, top-down: `backbones` (features) -> `losses` -> `objective` (with `tiling`, sized by
`memory`) -> `optimizers` -> `pyramid` (coarse-to-fine) -> `stylizer`. `colors` and `flow`
(optical flow and the temporal loss of video) are the extra controls. `feedforward/` holds the
feed-forward networks (network, rendering, model folder, loss and trainer). Imports TensorFlow.
"""
