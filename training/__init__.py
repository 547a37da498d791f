"""stylecam training: distil Magenta's arbitrary-stylization teacher into the fast StyleNet.

Needs the `train` extra: pip install '.[train]'.
"""
