"""Optional plugin capabilities are declared Protocols (otter_core.contracts) that the shipped plugins
satisfy, and the public surface (otter_core.spi) exports them (issue 19)."""

import inspect

from otter_core import contracts, spi
from otter_core.config import load_config_text
from otter_core.engine.select_process import ProcessSelector
from otter_core.plugins import PipelinePlugins
from tests.unit.test_config import EXAMPLE

CAPABILITIES = [
    contracts.StatefulSelector,
    contracts.InterruptibleSelector,
    contracts.DeferredDecoding,
    contracts.StartPinning,
    contracts.FencingArbitrator,
    contracts.FencedLoader,
    contracts.IgnoresDDL,
    contracts.PerBatch,
    contracts.DeletesFiles,
    contracts.DiscardingPipe,
]


def config():
    return load_config_text(EXAMPLE)


def test_every_capability_is_a_documented_protocol_in_the_public_surface():
    for capability in CAPABILITIES:
        assert getattr(capability, "_is_runtime_protocol", False), capability
        assert len(inspect.getdoc(capability) or "") > 40, capability
        assert getattr(spi, capability.__name__) is capability and capability.__name__ in spi.__all__


def test_the_shipped_plugins_declare_what_the_engine_uses(tmp_path):
    cfg = config()
    pipeline = cfg.channels[0].pipelines[0]
    plugins = PipelinePlugins(pipeline)
    selector = plugins.selector(cfg.sources["src"])  # built, never started: no server needed
    try:
        assert isinstance(selector, contracts.StatefulSelector)  # the schema history
        assert isinstance(selector, contracts.DeferredDecoding)  # decoding left to the runner
        assert isinstance(selector, contracts.InterruptibleSelector)  # a stop ends its wait at once
    finally:
        selector.close()
    assert isinstance(ProcessSelector(pipeline, cfg.sources["src"]), contracts.StatefulSelector)
    arbitrator = plugins.arbitrator("shop", str(tmp_path))
    assert isinstance(arbitrator, contracts.StartPinning)
    assert not isinstance(arbitrator, contracts.FencingArbitrator)  # one process: nobody to fence
    assert isinstance(plugins.pipe(), contracts.DiscardingPipe)

    from otter_files_example.resolver import ProductImages

    assert isinstance(ProductImages("jpg"), contracts.DeletesFiles)


def test_an_object_without_the_members_declares_nothing():
    class Plain:
        def poll(self, timeout):
            return None

    assert not any(isinstance(Plain(), capability) for capability in CAPABILITIES)
