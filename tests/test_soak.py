"""The short soak (scripts/soak.py --minutes 1): the daemon as a real process pushing RTMP to a
real nginx-rtmp, a style switch every 3 s over the control API, two nginx restarts. The stream
comes back by itself each time and the daemon's memory stays flat after the warm-up (every style
shown once, the first restart over; the 30-minute run's figures are in docs/benchmarks.md)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import need_ffmpeg
from streaming_helpers import need_nginx_rtmp

pytestmark = pytest.mark.rtmp
SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "soak.py"


def test_a_one_minute_soak_with_style_switches_and_two_server_restarts_keeps_memory_flat(tmp_path):
    need_ffmpeg()
    need_nginx_rtmp()
    out = tmp_path / "soak.json"
    proc = subprocess.run([sys.executable, str(SCRIPT), "--minutes", "1", "--switch-every", "3", "--json", str(out)],
                          check=False, capture_output=True, text=True, timeout=400)
    assert out.exists(), proc.stderr[-3000:]
    result = json.loads(out.read_text())
    assert proc.returncode == 0, (result, proc.stderr[-2000:])
    assert len(result["live_again_after_restart_s"]) == 2 and result["rtmp_restarts"] >= 2
    assert "reconnecting" in result["states_seen"] and result["rtmp_state"] == "live"
    assert result["style_switches"] >= 5 and result["frames"] > 0
    assert result["rss_growth_pct"] < 5.0, result
