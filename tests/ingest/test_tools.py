"""The native tools: each type's are the ones its formats run, checked before any file is read."""

import pytest

from resources.decoders import DecoderResource
from resources.tools import ToolError
from spot_assets.ingest import formats


def test_each_type_needs_the_tools_its_formats_run():
    assert formats.tools_needed("flow") == ("nfdump",)  # nfcapd files and NetFlow captures; CSV and Zeek need none
    assert formats.tools_needed("dns") == ("tshark", "editcap")
    assert formats.tools_needed("proxy") == ()


def test_a_missing_tool_is_named_with_its_package_before_any_file_is_read(tmp_path):
    decoders = DecoderResource(tshark=str(tmp_path / "tshark"))
    with pytest.raises(ToolError, match="tshark not found .* install the Debian package 'tshark'"):
        decoders.tools(formats.tools_needed("dns"))
    assert decoders.tools(formats.tools_needed("proxy")).tshark == str(tmp_path / "tshark")  # not needed: not checked
