"""Tracing off (no OTEL_* variables): OpenTelemetry costs nothing, not even its import."""

from __future__ import annotations

import os
import subprocess
import sys


def test_with_tracing_off_opentelemetry_is_not_even_imported():
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("LOYALTY_", "OTEL_"))}
    code = "import sys; from api.app import create_app; create_app(); print('opentelemetry' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], env=clean, capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "False", done.stderr
