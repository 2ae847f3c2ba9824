"""Reads: the audit trail as this person may see it (their own reads, or everyone's for an admin) and its export."""
import streamlit as st

from ui.access import signed_in
from ui.audit_trail import reads_page
from ui.pages import READS_TITLE

reader = signed_in()
st.title(READS_TITLE)
reads_page(reader)
