"""健康扶贫 jkfp."""

__version__ = "0.2.0"
