import json

import pytest
import torch

import faconv
from faconv import MIXERS, ConfigError, Registry
from faconv.mixers.base import SpatialMixer


def test_every_kind_is_listed():
    assert set(faconv.registries()) >= {"mixer", "gate", "attention", "cell", "layer"}
    assert "dilated_dw" in faconv.list_components("mixer")
    assert faconv.list_components("mixer", "dil*") == ["dilated_dw"]
    with pytest.raises(ConfigError, match="valid kinds"):
        faconv.list_components("mixers")


def test_unknown_type_lists_valid_names():
    with pytest.raises(ConfigError) as e:
        faconv.build({"type": "dilated_dws", "channels": 4})
    assert "dilated_dw" in str(e.value) and "Did you mean" in str(e.value)
    with pytest.raises(
        ConfigError, match="Valid mixer types: dilated_dw, graph_dw, squeeze_excite"
    ):
        MIXERS.build("nope", channels=4)


def test_unknown_key_is_named_with_suggestion():
    with pytest.raises(ConfigError) as e:
        MIXERS.build({"type": "dilated_dw", "dilation": [1, 2]}, channels=4)
    msg = str(e.value)
    assert "'dilation'" in msg and "'dilations'" in msg
    # nested: the error names the inner key
    with pytest.raises(ConfigError, match="'rd_ration'"):
        faconv.build(
            {"type": "fa_convlstm", "in_channels": 2, "hidden_channels": 8,
             "mixer": {"type": "dilated_dw", "se": {"type": "se", "rd_ration": 2}}}
        )  # fmt: skip


def test_names_are_normalized():
    a = faconv.build({"type": "Dilated-DW", "channels": 4})
    assert type(a).__name__ == "MultiScaleDilatedDWMixer"
    assert (
        faconv.build("FAConvLSTM", in_channels=3, hidden_channels=8).registry_name == "fa_convlstm"
    )


def test_duplicate_registration_raises_and_override_replaces():
    reg = Registry("toy_kind_dup", SpatialMixer)

    @reg.register("toy")
    class A(SpatialMixer):
        def __init__(self, channels):
            super().__init__()
            self.channels = channels

        def forward(self, x, domain):
            return x

    with pytest.raises(ConfigError, match="already registered"):

        @reg.register("TOY")
        class B(A):
            pass

    @reg.register("toy", override=True)
    class C(A):
        pass

    assert reg.get("toy") is C


def test_register_rejects_wrong_base():
    with pytest.raises(ConfigError, match="must subclass"):
        MIXERS.register("bad")(torch.nn.Linear)


def test_context_conflict_and_missing_argument():
    with pytest.raises(ConfigError, match="parent requires channels=8"):
        MIXERS.build({"type": "dilated_dw", "channels": 4}, channels=8)
    with pytest.raises(ConfigError, match="missing required argument"):
        faconv.build({"type": "fa_convlstm", "in_channels": 3})
    with pytest.raises(ConfigError, match="needs a 'type' key"):
        MIXERS.build({"channels": 4})
    with pytest.raises(ConfigError, match="cannot build"):
        MIXERS.build(3.5)


def test_build_accepts_module_class_and_checks_module_wiring():
    m = faconv.SqueezeExcite(8)
    assert MIXERS.build(m, channels=8) is m
    with pytest.raises(ConfigError, match="needs channels=4"):
        MIXERS.build(m, channels=4)
    assert isinstance(MIXERS.build(faconv.SqueezeExcite, channels=4), faconv.SqueezeExcite)
    cell = faconv.FAConvLSTMCell(3, 16, bottleneck_channels=8, mixer=m)
    assert cell.mixer is m


def test_prebuilt_module_with_wrong_channels_is_rejected_by_cell():
    with pytest.raises(ConfigError, match="channels"):
        faconv.FAConvLSTMCell(3, 16, bottleneck_channels=4, mixer=faconv.SqueezeExcite(8))


def test_config_is_json_and_roundtrips():
    cell = faconv.FAConvLSTMCell(3, 8, mixer={"type": "dilated_dw", "dilations": (1, 3)})
    cfg = cell.to_config()
    assert cfg["mixer"]["dilations"] == [1, 3]
    assert json.loads(json.dumps(cfg)) == cfg
    assert faconv.build(cfg).to_config() == cfg


def test_to_config_of_unregistered_component_is_clear():
    class Loose(faconv.Component):
        def __init__(self, a=1):
            super().__init__()
            self.a = a

    with pytest.raises(ConfigError, match="not registered"):
        Loose().to_config()
