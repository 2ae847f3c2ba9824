"""The Diagnose page once there are files: the call, the reader's read, why, how stable and faithful, the PDF."""
from __future__ import annotations

from review.access import Reader
from ui.diagnose.audit import audit_panel
from ui.diagnose.call import show_the_call
from ui.diagnose.explanation import explanation_panel, explanation_settings
from ui.diagnose.faithfulness import faithfulness_panel
from ui.diagnose.metadata import metadata_panel
from ui.diagnose.pacs_send import send_panel
from ui.diagnose.report import report_button
from ui.diagnose.stability import stability_panel


def review_files(files: list[tuple[str, bytes]], reader: Reader) -> None:
    chosen = show_the_call(files)
    metadata_panel(chosen)
    audit_panel(chosen, reader)
    settings, count = explanation_settings()
    explained = explanation_panel(chosen, settings, count, reader)
    stability_panel(chosen, explained, count, reader)
    faithfulness_panel(chosen, explained, reader)
    report_button(chosen, explained, reader)
    send_panel(chosen, explained, reader)
