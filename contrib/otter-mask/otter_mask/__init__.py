"""otter-mask: an EventProcessor that masks personal data (emails, phone numbers...) before loading."""

from otter_mask.processor import (
    MaskProcessor,
    mask_digits,
    mask_email,
    processor_from_options,
)

__version__ = "0.1.0"
__all__ = ["MaskProcessor", "__version__", "mask_digits", "mask_email", "processor_from_options"]
