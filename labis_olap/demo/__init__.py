"""Synthetic LabIS data calibrated to published Latvian figures."""
