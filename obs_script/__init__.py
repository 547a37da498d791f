"""The OBS Studio script, shipped as package data (stylecam.obs_script): OBS loads
stylecam_obs.py as a script from this folder; nothing imports it as a module."""
