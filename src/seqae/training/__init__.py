"""The training loop and its checkpoints."""
from seqae.training.loop import TrainingConfig, TrainingResult, train_autoencoder

__all__ = ["TrainingConfig", "TrainingResult", "train_autoencoder"]
