"""The Model & data page's panels, one module each; the page calls them in the order they are drawn."""
from ui.model_page.calibration import calibration_section
from ui.model_page.dataset import dataset_section
from ui.model_page.errors import errors_section
from ui.model_page.evaluation_sets import session_sets
from ui.model_page.model_card import model_card_section
from ui.model_page.own_data import own_data_section
from ui.model_page.performance import performance_section
from ui.model_page.threshold import threshold_explorer
from ui.model_page.training import training_section

__all__ = [
    "calibration_section",
    "dataset_section",
    "errors_section",
    "model_card_section",
    "own_data_section",
    "performance_section",
    "session_sets",
    "threshold_explorer",
    "training_section",
]
