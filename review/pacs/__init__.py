"""The hospital's PACS: find chest radiographs, retrieve them as stored, and send the app's results back.

settings (the [pacs] section), connection (what is asked of any PACS, and
its failures in a reader's words), dicomweb (DICOMweb), results (SR and
Secondary Capture), send (store and check), triage (the batch CLI,
`python -m review.pacs triage`). No Streamlit here.
"""
