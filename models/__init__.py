"""Shipped ONNX style network and style manifest (data package)."""
