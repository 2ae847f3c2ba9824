"""Clinical workflow around the model's calls, without Streamlit: triage, audit trail, PDF report, archives."""
