"""otter on ZooKeeper: nodes, pipeline placement, mainstem election, the distributed permit, acked
positions and the stage signals between Select/Extract and Transform/Load on different nodes.

Everything is built from kazoo's recipes (Election, Party-like ephemeral registration, Counter,
DataWatch/ChildrenWatch) and versioned writes; the znode layout is in ``layout.py`` and docs/znodes.md.
"""

__version__ = "0.1.0"
