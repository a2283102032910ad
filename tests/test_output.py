"""floe.output writes YAML itself, byte for byte as PyYAML with libyaml would (the committed style)."""

import random
from pathlib import Path

import pytest
import yaml

from floe.output import _dump, to_yaml

ROOT = Path(__file__).resolve().parent.parent
TRICKY = [*" :#-?[]{},&*!|>'\"%@`~.0123456789tTfFyYnNoOxeE+<=_/\\$()", "\n", "\t", "é", "true", "null", "0x1F",
          "1:20", "2001-12-14", "---", "...", " #", ": ", "1e3", ".inf", "<<", "=", "\n\n", "  "]


def _random_document(rng: random.Random) -> dict:
    def word() -> str:
        return "".join(rng.choice(TRICKY) for _ in range(rng.randint(0, 6)))

    def value(depth: int):
        roll = rng.random()
        if depth > 3 or roll < 0.5:
            return rng.choice([word(), word(), word(), rng.randint(-5, 5), True, False, None, ""])
        if roll < 0.75:
            return {word(): value(depth + 1) for _ in range(rng.randint(0, 4))}
        return [value(depth + 1) for _ in range(rng.randint(0, 4))]

    return {word(): value(0) for _ in range(rng.randint(1, 4))}


def test_every_committed_object_is_written_as_pyyaml_writes_it() -> None:
    documents = [yaml.load(path.read_text(), Loader=yaml.CSafeLoader) for path in (ROOT / "dist").rglob("*.yaml")]
    assert len(documents) > 500
    for document in documents:
        assert to_yaml(document) == _dump(document)


@pytest.mark.parametrize("seed", range(4))
def test_any_json_like_document_is_written_as_pyyaml_writes_it(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(1500):
        document = _random_document(rng)
        assert to_yaml(document) == _dump(document), document


@pytest.mark.parametrize("length", [3000, 3990, 4090, 4100, 5000])
def test_long_lines_are_folded_as_pyyaml_folds_them(length: int) -> None:
    for text in ("a " * (length // 2), "x" * length, "a: b " * (length // 5)):
        for document in ({"k": text}, {"k": [text]}, {"k": {"deep": [{"x": text}]}}):
            assert to_yaml(document) == _dump(document)


def test_shared_values_floats_and_other_types_go_to_pyyaml() -> None:
    shared = {"a": "b"}
    for document in ({"x": shared, "y": shared}, {"x": 1.5}, {"x": [[1, 2]]}, {1: "int key"}, {"x": ("a",)}, {}):
        assert to_yaml(document) == _dump(document)
