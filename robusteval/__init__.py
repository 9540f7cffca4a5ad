"""robusteval: robustness and generalization evaluation for 3D medical image segmentation."""

__all__ = ["__version__"]

__version__ = "0.1.0"
