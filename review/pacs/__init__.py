"""The hospital's PACS: find chest radiographs, retrieve them as stored, and send the app's results back.

settings (the [pacs] section), connection (what is asked of any PACS, and
its failures in a reader's words), dicomweb and dimse (the two protocols),
connect (the configured one), results (the SR and the Secondary Capture),
send (store what the PACS lacks, then check), triage (the batch CLI,
`python -m review.pacs triage`). No Streamlit here.
"""
