"""The native tools the decoders run (nfdump, tshark, editcap): where they are, and whether they will do.

Tools are located and their versions checked before any file is touched, with a message that names
the Debian package to install. Which tools a file needs is its format's to say (`Format.tools`).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass

# tool -> (Debian package, version flag, version pattern, minimum version)
_REQUIREMENTS = {
    "nfdump": ("nfdump", "-V", r"(\d+)\.(\d+)\.(\d+)", (1, 7, 0)),
    "tshark": ("tshark", "--version", r"(\d+)\.(\d+)\.(\d+)", (3, 6, 0)),
    "editcap": ("tshark", "--version", r"(\d+)\.(\d+)\.(\d+)", (3, 6, 0)),
}


@dataclass(frozen=True)
class Tools:
    """Where the native decoders are; picklable, so worker processes get it as is."""

    nfdump: str = "nfdump"
    tshark: str = "tshark"
    editcap: str = "editcap"
    # Packets per tshark process: tshark's memory grows with the packet count of its input.
    tshark_chunk_packets: int = 500_000
    # "native" (a streaming reader whose output equals tshark's, about twice as fast) or "tshark".
    dns_engine: str = "native"


class ToolError(RuntimeError):
    pass


def check_tool(name: str, binary: str) -> str:
    """The tool's absolute path, after checking it runs and is recent enough."""
    package, flag, pattern, minimum = _REQUIREMENTS[name]
    path = shutil.which(binary)
    if path is None:
        raise ToolError(f"{name} not found ({binary!r}): install the Debian package '{package}' "
                        f"(apt-get install {package}) or set ingest.{name} in spot.toml")
    out = subprocess.run([path, flag], capture_output=True, text=True, timeout=30)
    match = re.search(pattern, out.stdout + out.stderr)
    if match is None or tuple(map(int, match.groups())) < minimum:
        found = match.group(0) if match else "unknown"
        raise ToolError(f"{name} at {path} is version {found}; Spot needs {'.'.join(map(str, minimum))} or newer")
    return path
