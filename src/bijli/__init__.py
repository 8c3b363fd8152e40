"""bijli: operate smart prepaid electricity meters."""

__version__ = "0.1.0"
