"""torch.optim for JAX: torch's optimizers as optax ``GradientTransformation``s, with param
groups, torch's update rules and defaults, and resumable torch-compatible state."""

from .optimizer import Optimizer, OptimizerState
from .sgd import SGD

__all__ = ["SGD", "Optimizer", "OptimizerState"]
