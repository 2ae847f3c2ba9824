"""The Diagnose page's panels, one module each; the page calls them in the order they are drawn."""
from ui.diagnose.audit import audit_panel
from ui.diagnose.call import show_the_call
from ui.diagnose.explanation import explanation_panel, explanation_settings
from ui.diagnose.faithfulness import faithfulness_panel
from ui.diagnose.metadata import metadata_panel
from ui.diagnose.report import report_button
from ui.diagnose.stability import stability_panel

__all__ = [
    "audit_panel",
    "explanation_panel",
    "explanation_settings",
    "faithfulness_panel",
    "metadata_panel",
    "report_button",
    "show_the_call",
    "stability_panel",
]
