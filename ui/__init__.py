"""Streamlit glue shared by the pages: cached resources and common widgets."""
