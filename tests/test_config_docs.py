"""docs/config.md lists every key with its real default: the YAML block in it, loaded through
the real validator, equals the built-in defaults."""
from pathlib import Path

import yaml

from stylecam.config import Config, from_dict, to_dict

DOC = Path(__file__).resolve().parent.parent / "docs" / "config.md"


def test_config_doc_lists_every_key_with_its_default():
    block = DOC.read_text().split("```yaml", 1)[1].split("```", 1)[0]
    documented = from_dict(yaml.safe_load(block))
    assert to_dict(documented) == to_dict(Config())
    for section, keys in to_dict(Config()).items():
        for key in keys:
            assert f"  {key}:" in block, f"{section}.{key} is not documented"
