"""The model card: what the model is, what it was trained on, what it is for and where it stops."""
from __future__ import annotations

import streamlit as st

from model.calibration import describe_operating_point
from model.card import ModelCard
from ui.copy import DATASET_CITATION, INTENDED_USE, KNOWN_LIMITS, PATIENT_LEAK_NOTE
from ui.model_page.training import shown_hyperparameters
from ui.resources import classifier


@st.cache_data(show_spinner=False)
def network_summary(artifacts: str) -> str:
    """Keras' layer table of the loaded network, as plain text, built once per server and model folder."""
    lines: list[str] = []
    classifier().network.summary(print_fn=lambda line, line_break=True: lines.append(line))
    return "\n".join(lines)


def model_card_section(model_card: ModelCard, artifacts: str) -> None:
    st.header("Model card")
    architecture = model_card.architecture
    size = model_card.image_size
    st.markdown(
        f"""
- **Version** `{model_card.version}`, trained {model_card.trained_at}
  ({model_card.hyperparameters['epochs_run']} epochs, seed {model_card.seed}).
- **Architecture** {architecture['summary']}; **{architecture['parameters']:,} parameters**; input {size}×{size}
  grayscale; output {architecture['output']}; Grad-CAM layer `{architecture['last_conv_layer']}`.
- **Operating point** {describe_operating_point(model_card)}
- **Preprocessing** {model_card.preprocessing['decode']}; resize {model_card.preprocessing['resize']};
  CLAHE clip limit {model_card.preprocessing['clahe']['clip_limit']}.
"""
    )
    with st.expander("Layer table (Keras summary)"):
        st.code(network_summary(artifacts), language=None)
    with st.expander("Hyperparameters and library versions"):
        st.json({"hyperparameters": shown_hyperparameters(model_card), "libraries": model_card.library_versions})
    st.subheader("Training data and licence")
    st.markdown(DATASET_CITATION)
    st.subheader("Intended use")
    st.markdown(INTENDED_USE)
    st.subheader("Known limits")
    # A validation split taken from train/ can hold other images of the same patients.
    leak = PATIENT_LEAK_NOTE if "train/" in model_card.data["validation_source"] else ""
    st.markdown(KNOWN_LIMITS + leak)
