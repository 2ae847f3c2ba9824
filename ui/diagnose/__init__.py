"""The Diagnose page's panels, one module each; page.py calls them in the order they are drawn.

Nothing is imported here: sources.py must load without TensorFlow, so that a just-started server shows the uploader
while the model loads.
"""
