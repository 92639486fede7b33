"""The pyfunc model of seqae's MLflow flavour (:mod:`seqae.mlflow`), given to MLflow as code ("models from code")
so that nothing is pickled: MLflow runs this file when it saves and when it loads the model."""
import mlflow
import pandas as pd

from seqae.mlflow import ARTIFACT, predict_frame


class SeqaePyfunc(mlflow.pyfunc.PythonModel):
    """Loads the detector file from the artifacts; ``predict`` gives :func:`seqae.mlflow.predict_frame`'s frame
    (``params={"output": "events"}`` for the events table)."""

    def load_context(self, context) -> None:
        from seqae.persistence import load
        self.detector = load(context.artifacts[ARTIFACT], device="cpu")

    def predict(self, context, model_input, params=None):
        output = (params or {}).get("output", "points")
        frame = model_input if isinstance(model_input, pd.DataFrame) else pd.DataFrame(model_input)
        return predict_frame(self.detector, frame, output)


mlflow.models.set_model(SeqaePyfunc())
