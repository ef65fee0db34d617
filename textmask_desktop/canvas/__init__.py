"""The editing canvas: MaskCanvas (view.py), its tools, overlays and pure geometry.

Import MaskCanvas from textmask_desktop.canvas.view and create_actions from
textmask_desktop.canvas.actions. This file imports nothing, because the document imports
canvas.geometry and the view imports the document.
"""
