"""PCI specs against the real libxlutil (xlu_pci_parse_spec_string through
../shared's ctypes oracle): same accept/reject, same fields."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from xlpy.config.specs import SpecError
from xlpy.config.specs.pci import parse_pci, parse_rdm
from xlu_oracle import parse_pci as real_parse_pci
from xlu_oracle import parse_rdm as real_parse_rdm

ADDRESSES = st.sampled_from([
    "01:02.3", "0000:01:02.3", "fff:01:02.3", "10000:01:02.3", "1:2.3", "01:20.0", "100:02.3", "01:02.8",
    "01:02.*", "01:02.3@4", "01:02.3@1f", "01:02.3@20", "01:02.3@", "0x01:02.3", "bogus", "", "a:b.7", "01:02",
])
OPTIONS = st.sampled_from([
    "msitranslate=1", "msitranslate=0", "permissive=1", "permissive=2", "permissive=yes", "permissive=4294967296", "permissive= -3", "seize=1",
    "power_mgmt=1", "rdm_policy=strict", "rdm_policy=relaxed", "rdm_policy=bogus", "vslot=4", "vslot=0x10",
    "vslot=1f", "vslot=20", "name=foo", "bdf=01:02.4", "unknown=1", "", "01:02.5",
])


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ADDRESSES, st.lists(OPTIONS, max_size=3))
def test_pci_specs_match_libxlutil(address, options):
    spec = ",".join([address, *options])
    real = real_parse_pci(spec)
    try:
        ours = parse_pci(spec)
    except SpecError as e:
        assert not real["ok"], (spec, str(e), real.get("result"))
        return
    assert real["ok"], spec
    assert ours.to_json_obj() == real["result"], spec


RDM_PIECES = st.sampled_from([
    "strategy=host", "strategy=guest", "strategy=", "policy=strict", "policy=relaxed", "policy=Relaxed",
    "policy=bogus", "policy=", "colour=red", "host", "",
])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(RDM_PIECES, min_size=1, max_size=3))
def test_rdm_specs_match_libxlutil(pieces):
    """xl applies rdm= only where xlu_rdm_parse succeeds, and only its strategy
    (the policy it would keep is never set): xlpy keeps the same strategy."""
    spec = ",".join(pieces)
    real = real_parse_rdm(spec)
    strategy, _ = parse_rdm(spec)
    if not real["ok"]:
        assert strategy is None, spec
    else:
        assert (strategy.value if strategy else None) == real["result"].get("strategy"), spec
