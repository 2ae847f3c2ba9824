"""The ages the model was trained on: one source for the header check, the image check and the pages' prose.

Its own module, free of pydicom, so that the page's prose loads without the DICOM reader.
"""
TRAINED_AGES_YEARS = (1.0, 5.0)
