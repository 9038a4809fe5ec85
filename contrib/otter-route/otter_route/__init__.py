"""otter-route: an EventProcessor that sends each row to a target table chosen by a column value."""

from otter_route.processor import RouteByColumn, UnroutableRow, processor_from_options

__version__ = "0.1.0"
__all__ = ["RouteByColumn", "UnroutableRow", "__version__", "processor_from_options"]
