"""CalTrack: a calibration tracker for laboratories.

The import package is ``app``; the distribution is ``caltrack``.
"""

__version__ = "0.1.0"
