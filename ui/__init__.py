"""Streamlit glue shared by the pages (no Keras, no TensorFlow)."""
