"""The demo in a real X11 window under Xvfb (installed by .ci/run), not only offscreen."""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtGui import QImage

OUT = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"


@pytest.mark.skipif(shutil.which("xvfb-run") is None, reason="needs xvfb-run (apt-get install xvfb xauth)")
def test_demo_in_a_real_window_pushes_and_paints_the_rows(tmp_path):
    OUT.mkdir(parents=True, exist_ok=True)
    shot = OUT / "demo-xvfb.png"
    env = dict(os.environ, QT_QPA_PLATFORM="xcb", CODATDESK_HOME=str(tmp_path / "home"))
    done = subprocess.run(
        ["xvfb-run", "-a", "-s", "-screen 0 1280x720x24", sys.executable,
         str(Path(__file__).with_name("real_window_demo.py")), str(shot)],
        capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    counts = ast.literal_eval(done.stdout.strip().splitlines()[-1])
    assert counts == {"Push complete": 10, "Not pushed": 2}  # the sample's unknown payment accounts (#12)
    image = QImage(str(shot))
    assert image.width() == 1280 and image.height() == 720
    colours = {image.pixelColor(x, y).name() for x in range(0, 1280, 37) for y in range(0, 720, 23)}
    assert len(colours) > 10, "the screenshot is blank"
