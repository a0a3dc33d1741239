"""Temporal components: the seasonal positional encoding and attention over time."""

from faconv.temporal.attention import TEMPORAL, SeasonalTemporalAttention, TemporalMixer
from faconv.temporal.encoding import seasonal_encoding

__all__ = ["TEMPORAL", "SeasonalTemporalAttention", "TemporalMixer", "seasonal_encoding"]
