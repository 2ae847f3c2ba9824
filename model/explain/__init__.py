"""Why the model said what it said: LIME, Grad-CAM, their agreement, pictures and faithfulness."""
