"""Printable reports and labels: PDF through Qt's own printing, CSV and XLSX.

Fed by the services' plain report data; used by the GUI and the CLI. May use QtGui
(painting, fonts, QPdfWriter) but never widgets.
"""
