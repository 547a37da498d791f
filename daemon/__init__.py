"""stylecam: live neural style transfer for your webcam."""

__version__ = "0.1.0"
