"""Complete models built from registered parts."""

from faconv.models.representation import MODELS, Model, RepresentationModel

__all__ = ["MODELS", "Model", "RepresentationModel"]
