"""NB201 arch strings and both isomorphism keys; the 64-space of seed 004."""

import bz2
import csv
import pickle
from collections import defaultdict

import pytest

from wsdb.base.errors import InvalidArchitecture
from wsdb.spaces import nb201, ws64


def test_nats_key_gives_the_published_6466_classes():
    assert len({nb201.nats_key(ops) for ops in nb201.all_ops()}) == 6466


def test_functional_key_gives_5390_classes_and_is_constant_within_nats_classes():
    members = defaultdict(set)
    for ops in nb201.all_ops():
        members[nb201.nats_key(ops)].add(nb201.functional_key(ops))
    assert all(len(keys) == 1 for keys in members.values())
    assert len({key for keys in members.values() for key in keys}) == 5390


def test_arch_string_round_trip_and_canonical_representative():
    text = "|nor_conv_3x3~0|+|none~0|skip_connect~1|+|skip_connect~0|none~1|nor_conv_1x1~2|"
    assert nb201.arch_str(nb201.parse_arch_str(text)) == text
    arch = nb201.canonicalize(text)
    representative = nb201.parse_arch_str(arch.canonical_encoding)
    assert nb201.nats_key(representative) == arch.canonical_key
    same_class = [ops for ops in nb201.all_ops() if nb201.nats_key(ops) == arch.canonical_key]
    assert representative == min(same_class, key=lambda ops: [nb201.OPERATIONS.index(o) for o in ops])


def test_index_order_matches_the_official_meta_file(shared_data):
    class PlainData(pickle.Unpickler):
        def find_class(self, module, name):  # the meta file holds plain dicts and lists only
            raise pickle.UnpicklingError(f"refusing {module}.{name}")

    with bz2.open(shared_data / "nb201/nats_tss_simple_3archs/meta.pickle.pbz2") as f:
        meta = PlainData(f).load()
    assert list(nb201.official_index_order()) == list(meta["meta_archs"])


def test_index_lookup_and_out_of_range():
    assert nb201.arch_str_of_index(0).startswith("|avg_pool_3x3~0|")
    with pytest.raises(InvalidArchitecture, match="out of range"):
        nb201.arch_str_of_index(15625)


@pytest.mark.parametrize(
    "text, message",
    [
        ("|nor_conv_3x3~0|+|none~0|skip_connect~1|", "expected 3 nodes"),
        ("|conv~0|+|none~0|none~1|+|none~0|none~1|none~2|", "unknown NB201 op 'conv'"),
        ("|none~1|+|none~0|none~1|+|none~0|none~1|none~2|", "should end in '~0'"),
        ("|none~0|+|none~0|+|none~0|none~1|none~2|", "node 2 needs 2 inputs"),
        ("none~0+|none~0|none~1|+|none~0|none~1|none~2|", "not wrapped"),
    ],
)
def test_malformed_arch_strings(text, message):
    with pytest.raises(InvalidArchitecture, match=message):
        nb201.parse_arch_str(text)


def test_ws64_labels_and_indices_match_the_published_table(shared_data):
    rows = list(csv.DictReader(open(shared_data / "ws64/ground_truth_64.csv")))
    assert ws64.all_labels() == [r["label"] for r in rows]
    for row in rows:
        assert ws64.index_of_label(row["label"]) == int(row["arch_index"])
        assert ws64.parse_label(row["label"]) == (row["op_node1"], row["op_node2"], row["op_node3"])
    assert ws64.all_labels()[0] == "111" and ws64.all_labels()[-1] == "444"


@pytest.mark.parametrize("label", ["511", "11", "1111", "abc"])
def test_ws64_bad_labels(label):
    with pytest.raises(InvalidArchitecture, match="111..444"):
        ws64.canonicalize(label)
