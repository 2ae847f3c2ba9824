"""How well the model does: metrics, confidence intervals, the stored evaluation sets, the data summary."""
